import BridgeSystem
import Glibc
import Testing

@Suite struct HeapTests {
    /// Free memory held between live blocks (as a burst leaves it) is given back: there is more than `keep` of it,
    /// and `trim` releases pages. (Whole free pages inside the heap, which glibc does not return by itself.)
    @Test func freeMemoryBetweenLiveBlocksIsGivenBack() {
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<64 {
            let block = malloc(64 * 1024)!
            memset(block, 1, 64 * 1024)
            blocks.append(block)
        }
        for (i, block) in blocks.enumerated() where i % 2 == 0 { free(block) }
        defer { for (i, block) in blocks.enumerated() where i % 2 == 1 { free(block) } }
        #expect(Heap.freeBytes > Heap.keep)
        #expect(Heap.trim())
    }

    /// glibc takes the fixed threshold. (Its effect, a process's memory given back after large blocks were freed
    /// on many threads, depends on every arena's state, which tests running beside this one change: the flood
    /// `chekt-bridge-bench flood-clients` checks it on the agent.)
    @Test func theMmapThresholdIsFixed() {
        #expect(Heap.fixMmapThreshold())
    }
}
