import Foundation
import XCTest

@testable import KeysealCore
@testable import KeysealGit

/// keyseal writes and reads ISO 8601 times by hand (an org-wide checklist handles hundreds of
/// thousands): the same answers as Foundation's formatters, across eras, offsets and leap days.
final class TimestampTests: XCTestCase {
    func testWritingAndReadingAgreeWithFoundation() {
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime]
        var generator = SystemRandomNumberGenerator()
        var samples: [Int64] = [0, -1, 86_399, 86_400, 951_782_400, 4_107_542_399, -2_208_988_800, 1_709_164_800]
        for _ in 0..<2000 { samples.append(Int64.random(in: -4_000_000_000...8_000_000_000, using: &generator)) }
        for seconds in samples {
            let utc = Timestamp.iso8601UTC(seconds)
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            let reference = DateFormatter()
            reference.locale = Locale(identifier: "en_US_POSIX")
            reference.timeZone = TimeZone(secondsFromGMT: 0)
            reference.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
            XCTAssertEqual(utc, reference.string(from: date), "\(seconds)")
            XCTAssertEqual(Timestamp.seconds(utc), Double(seconds), utc)
            for offset in [-720, -330, 0, 60, 345, 840] {
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.timeZone = TimeZone(secondsFromGMT: offset * 60)
                formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxx"
                let text = formatter.string(from: date)
                XCTAssertEqual(Timestamp.seconds(text), parser.date(from: text)?.timeIntervalSince1970, text)
                XCTAssertEqual(Timestamp.seconds(text), Double(seconds), text)
            }
        }
        for bad in ["", "2024-05-01", "2024-05-01T10:00:00", "2024-13-01T10:00:00Z", "2024-05-01T10:00:00+0200", "2024-05-01T10:00:00Zx",
                    "2024-05-01T25:00:00Z", "x024-05-01T10:00:00Z", "2024-05-01T10:00:00.Z"] {
            XCTAssertNil(Timestamp.seconds(bad), bad)
        }
        XCTAssertEqual(Timestamp.seconds("2024-05-01T10:00:00.5Z"), 1_714_557_600.5)
    }

    /// A commit's time and offset are whatever its author wrote: the extremes still make a time
    /// (clamped to years 0-9999), not a trap.
    func testACraftedCommitTimeCannotTrap() {
        XCTAssertEqual(Timestamp.iso8601UTC(Int64.max), "9999-12-31T23:59:59Z")
        XCTAssertEqual(Timestamp.iso8601UTC(Int64.min), "0000-01-01T00:00:00Z")
        for offset in [Int32.max, Int32.min, 0] {
            for time in [Int64.max, Int64.min] {
                let signature = Signature(name: "", email: "", time: time, offsetMinutes: offset)
                XCTAssertFalse(Timestamp.iso8601(signature).isEmpty)
            }
        }
    }
}
