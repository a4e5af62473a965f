/// Mean squared error with mean reduction over every element:
/// L = (1/N)·Σ (prediction − target)², and dL/dprediction = (2/N)·(prediction − target).
/// The sum runs in Double so that large tensors lose no precision.
public func meanSquaredError(_ prediction: Tensor, target: Tensor) -> (value: Float, gradient: Tensor) {
    precondition(prediction.shape == target.shape,
                 "meanSquaredError: prediction \(prediction.shape), target \(target.shape)")
    var gradient = prediction  // dL/dprediction: same shape as prediction
    var sum = 0.0
    let scale = 2 / Float(max(prediction.count, 1))
    gradient.data.withUnsafeMutableBufferPointer { g in
        target.data.withUnsafeBufferPointer { t in
            for i in g.indices {
                let d = g[i] - t[i]
                sum += Double(d) * Double(d)
                g[i] = scale * d
            }
        }
    }
    return (Float(sum / Double(max(prediction.count, 1))), gradient)
}
