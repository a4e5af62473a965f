import Dispatch

/// Threads of the element-wise loops; nil (the default) follows `blasThreads`. Tests set it to
/// compare a split loop with its serial self while the GEMMs keep one thread count.
nonisolated(unsafe) public var elementwiseThreads: Int?

/// Runs `body` over `0..<count` split into contiguous ranges of at least `grain` items, one per
/// OpenBLAS thread (`blasThreads`, or `elementwiseThreads` when set), in parallel; on the caller's thread when one range is
/// enough. The element-wise work between the GEMMs (normalisation, activations, layout
/// copies) thus uses the cores the GEMMs do, and none more: where a caller already splits
/// its batch across threads with one BLAS thread each (the sampler's and learner's workers,
/// roles started with one BLAS thread), these loops stay on that thread.
/// Each item must write only its own outputs, so the result never depends on the split.
@inline(__always)
func parallelRanges(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
    run(count, parts: min(elementwiseThreads ?? blasThreads, count / max(grain, 1)), body)
}

/// `parallelRanges` for blocks that make their own small GEMMs (attention's (item, head)
/// blocks): while the ranges run in parallel OpenBLAS is held at one thread per call, so the
/// GEMMs of each range do not start OpenBLAS threads of their own on cores that the other
/// ranges already use.
func parallelGEMMBlocks(_ count: Int, _ body: (Range<Int>) -> Void) {
    let threads = blasThreads
    let parts = min(elementwiseThreads ?? threads, count)
    guard parts > 1, threads > 1 else { return run(count, parts: parts, body) }
    blasThreads = 1
    defer { blasThreads = threads }
    run(count, parts: parts, body)
}

/// `0..<count` as `parts` contiguous ranges, in parallel; on the caller's thread for one.
private func run(_ count: Int, parts: Int, _ body: (Range<Int>) -> Void) {
    guard parts > 1 else {
        if count > 0 { body(0..<count) }
        return
    }
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let run = body
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            run((p * count / parts)..<((p + 1) * count / parts))
        }
    }
}
