import Foundation
import KeysealGit
import Synchronization

/// ISO 8601 times, as every report, checklist and request writes them.
enum Timestamp {
    /// `2024-05-01T12:00:00+02:00`: a git signature's time at its own offset (`+00:00` for UTC, as
    /// git gives it).
    static func iso8601(_ signature: Signature) -> String {
        string(seconds: Int64(signature.time), offsetMinutes: signature.offsetMinutes)
    }

    /// `2024-05-01T10:00:00Z`: keyseal's own times (now, a removal time), in UTC.
    static func iso8601UTC(_ seconds: Int64) -> String { string(seconds: seconds, offsetMinutes: nil) }

    /// The seconds since 1970 of a time either function wrote (or any RFC 3339 time); nil if it is not one.
    static func seconds(_ text: String) -> Double? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)?.timeIntervalSince1970
    }

    /// One formatter per UTC offset (building a DateFormatter costs more than formatting with one);
    /// the key nil is UTC written `Z`.
    private static let formatters = Mutex<[Int32?: DateFormatter]>([:])

    private static func string(seconds: Int64, offsetMinutes: Int32?) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        return formatters.withLock { cache in
            let formatter = cache[offsetMinutes] ?? {
                let made = DateFormatter()
                made.locale = Locale(identifier: "en_US_POSIX")
                made.timeZone = TimeZone(secondsFromGMT: Int(offsetMinutes ?? 0) * 60)
                made.dateFormat = offsetMinutes == nil ? "yyyy-MM-dd'T'HH:mm:ss'Z'" : "yyyy-MM-dd'T'HH:mm:ssxxx"
                cache[offsetMinutes] = made
                return made
            }()
            return formatter.string(from: date)
        }
    }
}
