import SMXStore

/// The file layer every benchmark goes through. When SMXStore's `POSIXFileSystem` lands,
/// this becomes `POSIXFileSystem()` and TemporaryPOSIXFileSystem.swift goes away.
let fileSystem: any FileSystem = TemporaryPOSIXFileSystem()
