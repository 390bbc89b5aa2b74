import XCTest

@testable import keyseal

/// `keyseal staged` with no argument skips ArgumentParser (`Keyseal.hookCommand`): the values it
/// passes must be the ones the parse gives when nothing is on the command line.
final class HookFastPathTests: XCTestCase {
    func testDefaultStagedIsTheParsedDefaults() throws {
        let parsed = try StagedCommand.parse([])
        XCTAssertEqual(parsed.path, ".")
        XCTAssertEqual(parsed.files, [])
        XCTAssertNil(parsed.options.configuration.config)
        XCTAssertFalse(parsed.options.showSecrets)
        XCTAssertNil(parsed.options.output)
        XCTAssertNil(parsed.options.report)
    }
}
