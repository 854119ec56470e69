import SMXStore

/// The file layer every benchmark goes through: the production one.
let fileSystem: any FileSystem = POSIXFileSystem()
