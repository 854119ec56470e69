import Testing
import SMXStore
import SMXTestSupport

/// A write transaction's page table against a `Dictionary` model: inserts, replacements
/// and removals (backward-shift deletion across wrapped runs), through several growths.
@Suite struct PageTableTests {
    @Test(arguments: [1, 2, 3, 4])
    func matchesDictionaryModel(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var table = PageTable()
        var model: [UInt64: Page] = [:]
        // Few distinct numbers (long probe runs, many removals) or many (growth).
        let range: UInt64 = seed % 2 == 0 ? 300 : 20_000
        for step in 0..<60_000 {
            let number = 2 + random.next() % range
            switch random.next() % 10 {
            case 0..<5:
                let page = Page.make(number: number, kind: .leaf, size: 4096, txid: UInt64(step))
                table.insert(page)
                model[number] = page
            case 5..<8:
                #expect(table.remove(number) === model.removeValue(forKey: number))
            default:
                #expect(table[number] === model[number])
            }
            #expect(table.count == model.count)
        }
        for (number, page) in model { #expect(table[number] === page) }
        #expect(Set(table.values.map(\.number)) == Set(model.keys))
        for number in model.keys { table.remove(number) }
        #expect(table.isEmpty && table.values.isEmpty)
    }
}
