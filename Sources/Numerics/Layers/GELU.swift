import Foundation

/// GELU by its tanh approximation (GPT-2, BERT): y = ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
/// Cheaper than the erf form and within 1e-3 of it. No parameters; follows the `Linear`
/// convention.
public final class GELU {
    private var input: Tensor?  // x: (...)
    private static let c = Float((2 / Double.pi).squareRoot())
    private static let a: Float = 0.044715

    public init() {}

    /// y = GELU(x) elementwise, any shape.
    public func forward(_ x: Tensor) -> Tensor {
        input = x
        var y = Tensor(zeros: x.shape)  // y: (...)
        x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                for i in 0..<xp.count {
                    let v = xp[i]
                    yp[i] = 0.5 * v * (1 + tanhf(GELU.c * (v + GELU.a * v * v * v)))
                }
            }
        }
        return y
    }

    /// dy/dx = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²), t = tanh(√(2/π)(x + 0.044715x³)).
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("GELU.backward before forward") }
        precondition(dy.shape == x.shape, "GELU.backward: dy shape \(dy.shape), expected \(x.shape)")
        var dx = Tensor(zeros: x.shape)  // dx: (...)
        x.data.withUnsafeBufferPointer { xp in
            dy.data.withUnsafeBufferPointer { dyp in
                dx.data.withUnsafeMutableBufferPointer { dxp in
                    for i in 0..<xp.count {
                        let v = xp[i]
                        let t = tanhf(GELU.c * (v + GELU.a * v * v * v))
                        let slope = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU.c * (1 + 3 * GELU.a * v * v)
                        dxp[i] = dyp[i] * slope
                    }
                }
            }
        }
        input = nil
        return dx
    }
}
