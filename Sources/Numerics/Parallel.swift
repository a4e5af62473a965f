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
    let parts = min(elementwiseThreads ?? blasThreads, count / max(grain, 1))
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
