import Testing
import SMXStore

@Suite struct PathTests {
    @Test func joinsAndSplits() {
        #expect(Path.join("/q", "ibdb", "s") == "/q/ibdb/s")
        #expect(Path.join("/q/", "ibdb") == "/q/ibdb")
        #expect(Path.directory(of: "/q/ibdb/s") == "/q/ibdb")
        #expect(Path.directory(of: "/s") == "/")
        #expect(Path.directory(of: "s") == ".")
        #expect(Path.name(of: "/q/ibdb/s") == "s")
    }
}
