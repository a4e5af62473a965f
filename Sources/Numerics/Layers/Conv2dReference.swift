/// Direct convolution by its definition, accumulating in Double: the test oracle for
/// `Conv2d`. x: (B, Cin, H, W), weight: (Cout, Cin, k, k), bias: (Cout) → (B, Cout, Ho, Wo).
public func conv2dNaive(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) -> Tensor {
    let (batch, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cout, k) = (weight.shape[0], weight.shape[2])
    precondition(weight.shape == [cout, cin, k, k], "conv2dNaive: weight \(weight.shape) for input \(x.shape)")
    let ho = (h + 2 * padding - k) / stride + 1, wo = (w + 2 * padding - k) / stride + 1
    var y = Tensor(zeros: [batch, cout, ho, wo])  // y: (B, Cout, Ho, Wo)
    for n in 0..<batch {
        for o in 0..<cout {
            for oh in 0..<ho {
                for ow in 0..<wo {
                    var acc = Double(bias?.data[o] ?? 0)
                    for c in 0..<cin {
                        for ki in 0..<k {
                            for kj in 0..<k {
                                let ih = oh * stride + ki - padding, iw = ow * stride + kj - padding
                                guard ih >= 0 && ih < h && iw >= 0 && iw < w else { continue }
                                acc += Double(x.data[((n * cin + c) * h + ih) * w + iw])
                                    * Double(weight.data[((o * cin + c) * k + ki) * k + kj])
                            }
                        }
                    }
                    y.data[((n * cout + o) * ho + oh) * wo + ow] = Float(acc)
                }
            }
        }
    }
    return y
}
