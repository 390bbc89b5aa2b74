import ArgumentParser
import Foundation
import KeysealStore

/// `--status rotated`: ArgumentParser checks the value and lists the four in help and errors.
extension KeysealStore.SecretStatus: ExpressibleByArgument {}

/// `--status open,rotated`: one or more statuses, comma-separated. A value that is not a status is a
/// usage error naming the four.
struct StatusFilter: ExpressibleByArgument {
    let statuses: Set<SecretStatus>

    init?(argument: String) {
        var statuses = Set<SecretStatus>()
        for word in argument.split(separator: ",", omittingEmptySubsequences: false) {
            guard let status = SecretStatus(argument: word.trimmingCharacters(in: .whitespaces)) else { return nil }
            statuses.insert(status)
        }
        self.statuses = statuses
    }

    static var allValueStrings: [String] { SecretStatus.allValueStrings }
}
