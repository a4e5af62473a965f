import CShieldProto
import Foundation

/// An ONNX graph described in Swift values, encoded as a `ModelProto` (proto/onnx.proto) by
/// protobuf-c. Nodes name their inputs and outputs; `add` names outputs itself, so graph
/// building reads like the forward pass it mirrors.
public final class ONNXGraph {
    /// A node attribute.
    public enum Attribute {
        case int(Int)
        case ints([Int])
        case float(Float)
    }

    /// Element types of tensors (TensorProto.DataType).
    public enum ElementType: Int32 {
        case float = 1
        case int64 = 7
    }

    /// One dimension of a graph input or output: a number or a symbolic name ("batch").
    public enum Dimension {
        case fixed(Int)
        case named(String)
    }

    struct Node {
        let op: String
        let inputs: [String]
        let outputs: [String]
        let attributes: [(String, Attribute)]
    }

    struct Initializer {
        let name: String
        let dims: [Int]
        let type: ElementType
        let raw: [UInt8]
    }

    struct Value {
        let name: String
        let type: ElementType
        let dims: [Dimension]
    }

    /// ONNX's IR version and default-domain opset the files declare (LayerNormalization needs 17).
    public static let irVersion = 8
    public static let opset = 17

    public let name: String
    private(set) var nodes: [Node] = []
    private(set) var initializers: [Initializer] = []
    private(set) var inputs: [Value] = []
    private(set) var outputs: [Value] = []
    private var counter = 0

    public init(name: String) { self.name = name }

    /// Declares a graph input.
    public func input(_ name: String, _ type: ElementType, _ dims: [Dimension]) -> String {
        inputs.append(Value(name: name, type: type, dims: dims))
        return name
    }

    /// Declares `value` a graph output named `name` (through an Identity node when renamed).
    public func output(_ value: String, as name: String, _ dims: [Dimension], type: ElementType = .float) {
        if value != name { nodes.append(Node(op: "Identity", inputs: [value], outputs: [name], attributes: [])) }
        outputs.append(Value(name: name, type: type, dims: dims))
    }

    /// A float initializer (weights); `dims` empty for a scalar.
    public func constant(_ name: String, dims: [Int], _ values: [Float]) -> String {
        precondition(dims.reduce(1, *) == values.count, "ONNX constant \(name): \(values.count) values for \(dims)")
        let raw = values.withUnsafeBytes { Array($0) }  // little-endian float32, as raw_data requires
        initializers.append(Initializer(name: name, dims: dims, type: .float, raw: raw))
        return name
    }

    /// An int64 initializer (shapes, axes, indices).
    public func constant(_ name: String, dims: [Int], int64 values: [Int]) -> String {
        let longs = values.map { Int64($0).littleEndian }
        initializers.append(Initializer(name: name, dims: dims, type: .int64, raw: longs.withUnsafeBytes { Array($0) }))
        return name
    }

    /// A scalar float constant with a fresh name.
    public func scalar(_ value: Float) -> String {
        counter += 1
        return constant("const_\(counter)", dims: [], [value])
    }

    /// A 1-D int64 constant with a fresh name.
    public func ints(_ values: [Int]) -> String {
        counter += 1
        return constant("ints_\(counter)", dims: [values.count], int64: values)
    }

    /// Adds a node of `op` and returns its (single) output's fresh name.
    @discardableResult
    public func add(_ op: String, _ inputs: [String], _ attributes: [(String, Attribute)] = []) -> String {
        counter += 1
        let output = "\(op.lowercased())_\(counter)"
        nodes.append(Node(op: op, inputs: inputs, outputs: [output], attributes: attributes))
        return output
    }

    /// The serialized ModelProto.
    public func encoded(producer: String, docString: String) -> [UInt8] {
        let arena = Arena()
        defer { arena.release() }

        let graph = arena.new(Onnx__GraphProto.self, onnx__graph_proto__init)
        graph.pointee.name = arena.string(name)
        graph.pointee.n_node = nodes.count
        graph.pointee.node = arena.list(nodes.enumerated().map { index, node in encode(node, index: index, arena) })
        graph.pointee.n_initializer = initializers.count
        graph.pointee.initializer = arena.list(initializers.map { encode($0, arena) })
        graph.pointee.n_input = inputs.count
        graph.pointee.input = arena.list(inputs.map { encode($0, arena) })
        graph.pointee.n_output = outputs.count
        graph.pointee.output = arena.list(outputs.map { encode($0, arena) })

        let opset = arena.new(Onnx__OperatorSetIdProto.self, onnx__operator_set_id_proto__init)
        opset.pointee.domain = arena.string("")
        opset.pointee.has_version = 1
        opset.pointee.version = Int64(Self.opset)

        var model = Onnx__ModelProto()
        onnx__model_proto__init(&model)
        model.has_ir_version = 1
        model.ir_version = Int64(Self.irVersion)
        model.n_opset_import = 1
        model.opset_import = arena.list([opset])
        model.producer_name = arena.string(producer)
        model.doc_string = arena.string(docString)
        model.graph = graph
        var bytes = [UInt8](repeating: 0, count: onnx__model_proto__get_packed_size(&model))
        let written = bytes.withUnsafeMutableBufferPointer { onnx__model_proto__pack(&model, $0.baseAddress) }
        precondition(written == bytes.count, "protobuf-c packed \(written) of \(bytes.count) bytes")
        return bytes
    }

    private func encode(_ node: Node, index: Int, _ arena: Arena) -> UnsafeMutablePointer<Onnx__NodeProto> {
        let p = arena.new(Onnx__NodeProto.self, onnx__node_proto__init)
        p.pointee.op_type = arena.string(node.op)
        p.pointee.name = arena.string("\(node.op)_\(index)")
        p.pointee.n_input = node.inputs.count
        p.pointee.input = arena.list(node.inputs.map { arena.string($0) })
        p.pointee.n_output = node.outputs.count
        p.pointee.output = arena.list(node.outputs.map { arena.string($0) })
        p.pointee.n_attribute = node.attributes.count
        p.pointee.attribute = arena.list(node.attributes.map { name, value in
            let a = arena.new(Onnx__AttributeProto.self, onnx__attribute_proto__init)
            a.pointee.name = arena.string(name)
            a.pointee.has_type = 1
            switch value {
            case let .int(i):
                (a.pointee.type, a.pointee.has_i, a.pointee.i) = (ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, 1, Int64(i))
            case let .ints(list):
                a.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS
                a.pointee.n_ints = list.count
                a.pointee.ints = arena.array(list.map { Int64($0) })
            case let .float(f):
                (a.pointee.type, a.pointee.has_f, a.pointee.f) = (ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, 1, f)
            }
            return a
        })
        return p
    }

    private func encode(_ tensor: Initializer, _ arena: Arena) -> UnsafeMutablePointer<Onnx__TensorProto> {
        let p = arena.new(Onnx__TensorProto.self, onnx__tensor_proto__init)
        p.pointee.name = arena.string(tensor.name)
        p.pointee.n_dims = tensor.dims.count
        p.pointee.dims = arena.array(tensor.dims.map { Int64($0) })
        (p.pointee.has_data_type, p.pointee.data_type) = (1, tensor.type.rawValue)
        p.pointee.has_raw_data = 1
        p.pointee.raw_data = ProtobufCBinaryData(len: tensor.raw.count, data: arena.array(tensor.raw))
        return p
    }

    private func encode(_ value: Value, _ arena: Arena) -> UnsafeMutablePointer<Onnx__ValueInfoProto> {
        let shape = arena.new(Onnx__TensorShapeProto.self, onnx__tensor_shape_proto__init)
        shape.pointee.n_dim = value.dims.count
        shape.pointee.dim = arena.list(value.dims.map { dim in
            let d = arena.new(Onnx__TensorShapeProto__Dimension.self, onnx__tensor_shape_proto__dimension__init)
            switch dim {
            case let .fixed(n):
                d.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                d.pointee.dim_value = Int64(n)
            case let .named(name):
                d.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                d.pointee.dim_param = arena.string(name)
            }
            return d
        })
        let tensor = arena.new(Onnx__TypeProto__Tensor.self, onnx__type_proto__tensor__init)
        (tensor.pointee.has_elem_type, tensor.pointee.elem_type) = (1, value.type.rawValue)
        tensor.pointee.shape = shape
        let type = arena.new(Onnx__TypeProto.self, onnx__type_proto__init)
        type.pointee.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
        type.pointee.tensor_type = tensor
        let p = arena.new(Onnx__ValueInfoProto.self, onnx__value_info_proto__init)
        p.pointee.name = arena.string(value.name)
        p.pointee.type = type
        return p
    }
}

/// The C memory of one encoding: every message, string and array protobuf-c reads, freed together.
private final class Arena {
    private var releases: [() -> Void] = []

    func new<T>(_: T.Type, _ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: 1)
        initialize(p)
        releases.append { p.deallocate() }
        return p
    }

    func string(_ s: String) -> UnsafeMutablePointer<CChar> {
        let p = strdup(s)!
        releases.append { free(p) }
        return p
    }

    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(values.count, 1))
        p.initialize(from: values, count: values.count)
        releases.append { p.deallocate() }
        return p
    }

    func list<T>(_ pointers: [UnsafeMutablePointer<T>]) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?> {
        array(pointers.map { Optional($0) })
    }

    func release() {
        releases.forEach { $0() }
        releases = []
    }
}
