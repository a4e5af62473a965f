/// All trainable parameters of a model and their gradients, each in one contiguous buffer,
/// with named views into them.
///
/// One flat buffer makes the optimizer, gradient clipping, checkpoints and the weight
/// broadcast single loops over memory. Layers register their parameters at construction
/// and keep only the returned `Parameter` handle; they fetch pointers at each call.
/// Registration may grow (and move) the buffers, so never hold a pointer across it.
public final class ParameterStore {
    /// A named view: `count` elements starting at `offset` in both buffers.
    public struct Parameter: Hashable, Sendable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var parameters: [Parameter] = []
    private var index: [String: Int] = [:]
    private var valueStorage: UnsafeMutablePointer<Float>
    private var gradStorage: UnsafeMutablePointer<Float>
    private var capacity: Int
    public private(set) var count = 0

    public init(reserve: Int = 1024) {
        capacity = max(reserve, 1)
        valueStorage = .allocate(capacity: capacity)
        gradStorage = .allocate(capacity: capacity)
    }

    deinit {
        valueStorage.deallocate()
        gradStorage.deallocate()
    }

    /// Registers a parameter named `name` (unique in the store) with initial `values`.
    @discardableResult
    public func register(_ name: String, shape: [Int], values: [Float]) -> Parameter {
        precondition(index[name] == nil, "parameter \(name) registered twice")
        let n = shape.reduce(1, *)
        precondition(values.count == n, "parameter \(name): shape \(shape) needs \(n) values, got \(values.count)")
        grow(to: count + n)
        let p = Parameter(name: name, shape: shape, offset: count)
        values.withUnsafeBufferPointer { (valueStorage + count).update(from: $0.baseAddress!, count: n) }
        (gradStorage + count).update(repeating: 0, count: n)
        count += n
        index[name] = parameters.count
        parameters.append(p)
        return p
    }

    public func parameter(named name: String) -> Parameter? {
        index[name].map { parameters[$0] }
    }

    /// The parameter's values; valid until the next `register`.
    @inline(__always)
    public func value(_ p: Parameter) -> UnsafeMutablePointer<Float> { valueStorage + p.offset }
    /// The parameter's accumulated gradient; valid until the next `register`.
    @inline(__always)
    public func grad(_ p: Parameter) -> UnsafeMutablePointer<Float> { gradStorage + p.offset }

    /// Every value, in registration order.
    public var values: UnsafeMutableBufferPointer<Float> { .init(start: valueStorage, count: count) }
    /// Every gradient, aligned with `values`.
    public var grads: UnsafeMutableBufferPointer<Float> { .init(start: gradStorage, count: count) }

    public func zeroGrads() { gradStorage.update(repeating: 0, count: count) }

    /// A copy of one parameter as a tensor.
    public func tensor(_ p: Parameter) -> Tensor {
        Tensor(shape: p.shape, data: Array(UnsafeBufferPointer(start: value(p), count: p.count)))
    }

    /// Overwrites one parameter's values.
    public func set(_ p: Parameter, _ t: Tensor) {
        precondition(t.shape == p.shape, "parameter \(p.name): shape \(p.shape), got \(t.shape)")
        t.data.withUnsafeBufferPointer { value(p).update(from: $0.baseAddress!, count: p.count) }
    }

    private func grow(to needed: Int) {
        guard needed > capacity else { return }
        var newCapacity = capacity
        while newCapacity < needed { newCapacity *= 2 }
        let v = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity)
        let g = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity)
        v.update(from: valueStorage, count: count)
        g.update(from: gradStorage, count: count)
        valueStorage.deallocate()
        gradStorage.deallocate()
        (valueStorage, gradStorage, capacity) = (v, g, newCapacity)
    }
}
