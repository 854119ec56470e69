@_exported import SMXStore
