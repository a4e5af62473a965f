import Numerics

/// The world's layers as ONNX nodes, reading their weights from a `ParameterStore` by the
/// names the Swift layers registered. Each mirrors the Swift forward pass it is named for.
struct ONNXLayers {
    let store: ParameterStore
    let graph: ONNXGraph

    /// The named parameter's values; a missing name is a programming error (the names are the layers').
    func values(_ name: String) -> (shape: [Int], data: [Float]) {
        guard let p = store.parameter(named: name) else { preconditionFailure("no parameter \(name) to export") }
        return (p.shape, store.tensor(p).data)
    }

    /// Puts the named parameter into the graph as an initializer of the same name.
    func weight(_ name: String) -> String {
        let (shape, data) = values(name)
        return graph.constant(name, dims: shape, data)
    }

    /// `Conv2d`: 3×3 (or any square) kernel with padding and stride, plus bias.
    func conv(_ x: String, _ name: String, stride: Int, padding: Int) -> String {
        let w = weight("\(name).weight"), b = weight("\(name).bias")
        let k = values("\(name).weight").shape[2]
        return graph.add("Conv", [x, w, b], [("kernel_shape", .ints([k, k])), ("strides", .ints([stride, stride])),
                                             ("pads", .ints([padding, padding, padding, padding]))])
    }

    /// `SiLU`: x · σ(x).
    func silu(_ x: String) -> String {
        graph.add("Mul", [x, graph.add("Sigmoid", [x])])
    }

    /// `Linear`: x Wᵀ (+ b) over the last axis of x of any rank; Wᵀ is stored transposed.
    func linear(_ x: String, _ name: String, bias: Bool = true) -> String {
        let (shape, data) = values("\(name).weight")   // W: (out, in)
        let (out, inFeatures) = (shape[0], shape[1])
        var transposed = [Float](repeating: 0, count: data.count)
        for o in 0..<out { for i in 0..<inFeatures { transposed[i * out + o] = data[o * inFeatures + i] } }
        let wt = graph.constant("\(name).weight_t", dims: [inFeatures, out], transposed)
        let y = graph.add("MatMul", [x, wt])
        return bias ? graph.add("Add", [y, weight("\(name).bias")]) : y
    }

    /// `LayerNorm` over the last axis, ε = 1e-5 as the Swift layer.
    func layerNorm(_ x: String, _ name: String) -> String {
        graph.add("LayerNormalization", [x, weight("\(name).weight"), weight("\(name).bias")],
                  [("axis", .int(-1)), ("epsilon", .float(1e-5))])
    }

    /// `GELU`, tanh form: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    func gelu(_ x: String) -> String {
        let cube = graph.add("Mul", [graph.add("Mul", [x, x]), x])
        let inner = graph.add("Add", [x, graph.add("Mul", [cube, graph.scalar(0.044715)])])
        let t = graph.add("Tanh", [graph.add("Mul", [inner, graph.scalar(Float((2 / Double.pi).squareRoot()))])])
        return graph.add("Mul", [graph.add("Mul", [x, graph.scalar(0.5)]), graph.add("Add", [t, graph.scalar(1)])])
    }

    /// Unit rows: `L2Normalize` over the last axis.
    func l2Normalize(_ x: String) -> String {
        graph.add("LpNormalization", [x], [("axis", .int(-1)), ("p", .int(2))])
    }

    /// `MultiHeadAttention` as self-attention over x (N, T, D) with `keyBias` (N, 1, 1, T):
    /// 0 for real keys, −1e9 for padding, so padding gets exactly zero weight as in Swift.
    func selfAttention(_ x: String, _ name: String, heads: Int, width: Int, keyBias: String) -> String {
        let headDim = width / heads
        let split = graph.ints([0, 0, heads, headDim])
        let (qx, kx, vx) = (linear(x, "\(name).q", bias: false), linear(x, "\(name).k", bias: false),
                            linear(x, "\(name).v", bias: false))                       // (N, T, D) each
        let q = graph.add("Transpose", [graph.add("Reshape", [qx, split])], [("perm", .ints([0, 2, 1, 3]))])  // (N, h, T, dh)
        let k = graph.add("Transpose", [graph.add("Reshape", [kx, split])], [("perm", .ints([0, 2, 3, 1]))])  // (N, h, dh, T)
        let v = graph.add("Transpose", [graph.add("Reshape", [vx, split])], [("perm", .ints([0, 2, 1, 3]))])  // (N, h, T, dh)
        let scores = graph.add("Mul", [graph.add("MatMul", [q, k]), graph.scalar(1 / Float(headDim).squareRoot())])
        let p = graph.add("Softmax", [graph.add("Add", [scores, keyBias])], [("axis", .int(-1))])
        let o = graph.add("Transpose", [graph.add("MatMul", [p, v])], [("perm", .ints([0, 2, 1, 3]))])  // (N, T, h, dh)
        return linear(graph.add("Reshape", [o, graph.ints([0, 0, width])]), "\(name).out")
    }
}
