import BridgeSystem
import CGlibcExtras
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

    /// With the threshold fixed, a block above it is mapped on its own even after a larger one was freed (glibc would
    /// otherwise raise the threshold to the freed size and take the next such block from an arena, whose top it keeps).
    @Test func largeBlocksStayMappedOnTheirOwnAfterALargerOneIsFreed() {
        Heap.fixMmapThreshold()
        let big = malloc(4 << 20)!
        memset(big, 1, 4 << 20)
        free(big)
        let before = mallinfo2().hblks
        let block = malloc(Heap.ownMappingFrom * 4)!
        defer { free(block) }
        #expect(mallinfo2().hblks == before + 1, "a \(Heap.ownMappingFrom * 4)-byte block came from an arena")
    }
}
