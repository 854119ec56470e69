#if canImport(Glibc)
import Glibc
#endif

/// The one error type every store throws.
///
/// A `StoreError` says *what kind* of failure happened (``code``), in words (``message``),
/// where (``path``, and the source location that raised it), the `errno` when a syscall
/// failed, and the error that caused it, if any. Codes stay distinct so callers can react:
/// corruption is reported and quarantined, `noSpace` is a temporary failure for the SMTP
/// client, `poisoned` means a sync failed and only reopening the store brings it back
/// (ARCHITECTURE.md, rule 6).
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Extensible: new codes can be added without breaking
    /// callers that switch over the ones they know.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A syscall failed (EIO and friends).
        public static let io = Code("io")
        /// Bytes on disk failed a checksum, a magic number, a version or a bounds check.
        public static let corrupted = Code("corrupted")
        /// The device or a configured bound is full (ENOSPC, EDQUOT, log full).
        public static let noSpace = Code("noSpace")
        /// The store or handle was closed.
        public static let closed = Code("closed")
        /// A sync failed earlier; the store refuses writes until it is reopened.
        public static let poisoned = Code("poisoned")
        /// A file, directory, record or id does not exist.
        public static let notFound = Code("notFound")
        /// A file or directory that must be new already exists.
        public static let alreadyExists = Code("alreadyExists")
        /// Another process holds the queue's lock.
        public static let locked = Code("locked")
        /// The caller passed something the store cannot take (too large, malformed).
        public static let invalidArgument = Code("invalidArgument")
        /// The file was written by a newer or unknown format version.
        public static let unsupportedVersion = Code("unsupportedVersion")
    }

    public var code: Code
    public var message: String
    public var path: String?
    public var errno: Int32?
    public var file: String
    public var line: Int
    public var cause: (any Error & Sendable)?

    public init(
        _ code: Code,
        _ message: String,
        path: String? = nil,
        errno: Int32? = nil,
        cause: (any Error & Sendable)? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
        self.cause = cause
        self.file = file
        self.line = line
    }

    /// An error for a failed syscall: ENOSPC and EDQUOT map to ``Code/noSpace``,
    /// ENOENT to ``Code/notFound``, EEXIST to ``Code/alreadyExists``, the rest to ``Code/io``.
    public static func syscall(
        _ name: String,
        errno: Int32,
        path: String?,
        file: String = #fileID,
        line: Int = #line
    ) -> StoreError {
        let code: Code
        switch errno {
        case ENOSPC, EDQUOT: code = .noSpace
        case ENOENT: code = .notFound
        case EEXIST: code = .alreadyExists
        case EWOULDBLOCK: code = .locked
        default: code = .io
        }
        let reason = String(cString: strerror(errno))
        return StoreError(code, "\(name) failed: \(reason)", path: path, errno: errno, file: file, line: line)
    }

    public var description: String {
        var text = "[\(code)] \(message)"
        if let path { text += " (path: \(path))" }
        if let errno { text += " (errno \(errno))" }
        text += " at \(file):\(line)"
        if let cause { text += "\n  caused by: \(cause)" }
        return text
    }
}
