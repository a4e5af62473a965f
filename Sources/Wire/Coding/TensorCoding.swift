import CShieldProto

// protobuf-c conversion of named tensors: the TENSOR, TENSOR_LIST and WEIGHTS payloads.

extension WireTensor {
    init(converting c: Shielddiff__V1__Tensor, what: String, limits: WireLimits) throws(WireError) {
        let name = try CRead.string(c.name, what: what)
        self.init(name: name, tensor: try CRead.tensor(c, name: name, limits: limits))
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Tensor> {
        cTensor(tensor, name: name, arena)
    }
}

/// The tensors of a repeated Tensor field, each error naming "name of tensor i`suffix`".
func wireTensors(
    _ pointers: UnsafeMutablePointer<UnsafeMutablePointer<Shielddiff__V1__Tensor>?>?, count: Int,
    what: String, suffix: String, limits: WireLimits
) throws(WireError) -> [WireTensor] {
    try CRead.messages(pointers, count: count, what: what, limit: limits.maxTensors) { (tensor, i) throws(WireError) in
        try WireTensor(converting: tensor, what: "name of tensor \(i)\(suffix)", limits: limits)
    }
}

extension Weights {
    /// Converts and verifies the checksum.
    init(converting c: Shielddiff__V1__Weights, limits: WireLimits) throws(WireError) {
        self.init(version: c.version, tensors: try wireTensors(c.tensors, count: c.n_tensors, what: "tensors of weights",
                                                               suffix: " of weights", limits: limits))
        let computed = checksum
        guard computed == c.checksum else {
            throw .checksumMismatch(version: version, expected: c.checksum, computed: computed)
        }
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Weights> {
        var c = Shielddiff__V1__Weights()
        shielddiff__v1__weights__init(&c)
        c.version = version
        c.checksum = checksum
        c.n_tensors = tensors.count
        c.tensors = arena.pointers(tensors.map { $0.cMessage(arena) })
        return arena.new(c)
    }
}
