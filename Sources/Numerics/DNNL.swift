import CDNNL

/// oneDNN (Debian's libdnnl 2.6, on GNU OpenMP): the process's CPU engine and the thin layer
/// over its C API that the convolutions use. oneDNN chooses its instruction set by cpuid when
/// the engine is created, so it needs no kernel selection of its own.
enum DNNL {
    /// The process's one CPU engine.
    nonisolated(unsafe) static let engine: dnnl_engine_t = {
        var engine: dnnl_engine_t?
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        return engine!
    }()

    /// Stops with the call that failed: every call here is on shapes the caller has checked,
    /// so a failure is a bug, not bad input.
    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
        precondition(status == dnnl_success, "oneDNN: \(what()) failed with status \(status.rawValue)")
    }

    /// Makes the primitives created and run on the calling thread use `count` threads. OpenMP's
    /// thread count is per calling thread, and a primitive fixes its split when created, so
    /// callers key their primitives by this count (`blasThreads`, as for OpenBLAS).
    static func useThreads(_ count: Int) {
        if omp_get_max_threads() != Int32(count) { omp_set_num_threads(Int32(count)) }
    }

    /// A dense Float32 tensor of `dims` in the layout `tag` (`dnnl_format_tag_any`: the
    /// primitive chooses).
    static func memoryDescriptor(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        var descriptor = dnnl_memory_desc_t()
        let d = dims.map(Int64.init)
        check(dnnl_memory_desc_init_by_tag(&descriptor, Int32(dims.count), d, dnnl_f32, tag), "describing \(dims)")
        return descriptor
    }

    static func equal(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
        withUnsafePointer(to: a) { pa in withUnsafePointer(to: b) { pb in dnnl_memory_desc_equal(pa, pb) != 0 } }
    }

    static func byteCount(_ descriptor: dnnl_memory_desc_t) -> Int {
        withUnsafePointer(to: descriptor) { Int(dnnl_memory_desc_get_size($0)) }
    }
}

/// One oneDNN primitive and its descriptor, destroyed together. Its scratch memory is given
/// by each call (user scratchpad mode), so calls on different threads never share any.
final class DNNLPrimitive {
    private let descriptor: dnnl_primitive_desc_t
    private let primitive: dnnl_primitive_t
    private let scratchpad: dnnl_memory_desc_t

    /// Takes ownership of `descriptor`.
    init(_ descriptor: dnnl_primitive_desc_t, _ what: String) {
        self.descriptor = descriptor
        var p: dnnl_primitive_t?
        DNNL.check(dnnl_primitive_create(&p, descriptor), "creating \(what)")
        primitive = p!
        scratchpad = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0)!.pointee
    }

    /// Attributes with the user scratchpad mode, and `sum` post-op when asked.
    private static func attributes(sum: Bool) -> dnnl_primitive_attr_t {
        var attributes: dnnl_primitive_attr_t?
        DNNL.check(dnnl_primitive_attr_create(&attributes), "creating attributes")
        DNNL.check(dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user), "setting the scratchpad mode")
        if sum {
            var postOps: dnnl_post_ops_t?
            DNNL.check(dnnl_post_ops_create(&postOps), "creating post-ops")
            defer { dnnl_post_ops_destroy(postOps) }
            DNNL.check(dnnl_post_ops_append_sum(postOps, 1), "appending a sum post-op")
            DNNL.check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "setting post-ops")
        }
        return attributes!
    }

    /// The primitive for an operation descriptor (a `dnnl_convolution_desc_t`), with `hint`
    /// the forward primitive a backward one follows.
    convenience init<Op>(operation: Op, hint: DNNLPrimitive? = nil, _ what: String) {
        let attributes = Self.attributes(sum: false)
        defer { dnnl_primitive_attr_destroy(attributes) }
        var descriptor: dnnl_primitive_desc_t?
        withUnsafePointer(to: operation) { op in
            DNNL.check(dnnl_primitive_desc_create(&descriptor, op, attributes, DNNL.engine, hint?.descriptor),
                       "choosing an implementation of \(what)")
        }
        self.init(descriptor!, what)
    }

    /// A copy from layout `source` to layout `destination`; with `accumulate` it adds onto the
    /// destination instead (a sum post-op).
    convenience init(reorderFrom source: dnnl_memory_desc_t, to destination: dnnl_memory_desc_t, accumulate: Bool = false) {
        let attributes = Self.attributes(sum: accumulate)
        defer { dnnl_primitive_attr_destroy(attributes) }
        var descriptor: dnnl_primitive_desc_t?
        withUnsafePointer(to: source) { s in
            withUnsafePointer(to: destination) { d in
                DNNL.check(dnnl_reorder_primitive_desc_create(&descriptor, s, DNNL.engine, d, DNNL.engine, attributes),
                           "choosing a reorder")
            }
        }
        self.init(descriptor!, "a reorder")
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// The layout the primitive chose for one of its operands (`dnnl_query_src_md`, …).
    func layout(_ query: dnnl_query_t) -> dnnl_memory_desc_t {
        dnnl_primitive_desc_query_md(descriptor, query, 0)!.pointee
    }

    /// Runs the primitive on `stream` and waits for it; each argument is (DNNL_ARG_…, data,
    /// its layout).
    func execute(_ stream: dnnl_stream_t, _ arguments: [(Int32, UnsafeMutableRawPointer, dnnl_memory_desc_t)]) {
        let scratch = DNNL.byteCount(scratchpad) > 0 ? DNNLBuffer(scratchpad) : nil
        defer { scratch?.deallocate() }
        let arguments = arguments + (scratch.map { [(DNNL_ARG_SCRATCHPAD, $0.data, scratchpad)] } ?? [])
        var memories = [dnnl_memory_t?](repeating: nil, count: arguments.count)
        for (i, argument) in arguments.enumerated() {
            withUnsafePointer(to: argument.2) { md in
                DNNL.check(dnnl_memory_create(&memories[i], md, DNNL.engine, argument.1), "wrapping an operand")
            }
        }
        defer { for memory in memories { dnnl_memory_destroy(memory) } }
        let args = zip(arguments, memories).map { dnnl_exec_arg_t(arg: $0.0, memory: $1) }
        DNNL.check(dnnl_primitive_execute(primitive, stream, Int32(args.count), args), "executing a primitive")
        DNNL.check(dnnl_stream_wait(stream), "waiting for a stream")
    }
}

/// A buffer in a primitive's own layout, aligned for its vector loads.
struct DNNLBuffer {
    let data: UnsafeMutableRawPointer
    let layout: dnnl_memory_desc_t

    init(_ layout: dnnl_memory_desc_t) {
        self.layout = layout
        data = .allocate(byteCount: max(DNNL.byteCount(layout), 4), alignment: 64)
    }

    func deallocate() { data.deallocate() }
}
