import Crypto
@testable import KeysealEngine
import XCTest

/// The rules' hash names every store's records: streaming its bytes through a buffer must not change it.
final class RuleSetHashTests: XCTestCase {
    func testTheHashIsThatOfEveryPartInTurn() {
        var hasher = SHA256()
        hasher.update(data: Array(RuleSetHash.engineVersion.utf8))
        for rule in BuiltInRules.all {
            let span: String
            switch rule.span {
            case .line: span = "line"
            case .block(let bytes): span = "block\(bytes)"
            }
            let parts = [rule.id, rule.provider, rule.description, rule.regex, rule.prefilter ?? "", String(rule.secretGroup),
                         rule.nameGroup.map(String.init) ?? "", rule.caseless ? "i" : "", rule.minEntropy.map { "\($0)" } ?? "",
                         rule.keywords.joined(separator: ","), rule.generic ? "g" : "", span, rule.pairsWith ?? "",
                         String(rule.priority), rule.checksum?.rawValue ?? "", rule.guessable ? "p" : "", rule.namedValue ? "n" : ""]
            for part in parts { hasher.update(data: Array(part.utf8) + [0]) }
        }
        let expected = hasher.finalize().prefix(16).map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(RuleSetHash.of(BuiltInRules.all), expected)
        XCTAssertNotEqual(RuleSetHash.of(Array(BuiltInRules.all.dropLast())), expected)
    }
}
