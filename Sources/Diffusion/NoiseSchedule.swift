import Foundation

/// The forward-process noise schedule ᾱ_t over `T` training steps, and the DDIM
/// sub-sequence of timesteps used for sampling.
///
/// The cosine schedule (Nichol & Dhariwal, 2021) is used rather than Stable Diffusion's
/// scaled-linear one: on tiny 32×32 images the linear schedule spends most steps at noise
/// levels where the image is already destroyed, while the cosine one spreads them evenly
/// in signal-to-noise ratio.
public struct NoiseSchedule: Sendable, Equatable {
    /// Number of training timesteps T.
    public let trainingSteps: Int
    /// ᾱ_t for t = 0..<T (ᾱ_0 < 1, so even the last DDIM step has nonzero variance).
    public let alphaBar: [Double]

    public init(trainingSteps: Int = 1000) {
        precondition(trainingSteps >= 2, "need at least 2 training steps")
        self.trainingSteps = trainingSteps
        let s = 0.008
        func f(_ t: Double) -> Double {
            let c = cos((t / Double(trainingSteps) + s) / (1 + s) * Double.pi / 2)
            return c * c
        }
        // ᾱ_t = f(t+1)/f(0), each step's β clipped to 0.999 as in the paper.
        var bars: [Double] = []
        var product = 1.0
        for t in 0..<trainingSteps {
            let beta = min(1 - f(Double(t + 1)) / f(Double(t)), 0.999)
            product *= 1 - beta
            bars.append(product)
        }
        alphaBar = bars
    }

    /// ᾱ at timestep t; t < 0 means "before the first step" and is clamped to ᾱ_0.
    public func alphaBar(at t: Int) -> Double { alphaBar[max(0, min(t, trainingSteps - 1))] }

    /// The N DDIM timesteps t_N > … > t_1, evenly spaced and ending at T/N − 1, so the
    /// first step starts from (almost) pure noise at t = T − 1.
    public func samplingTimesteps(_ n: Int) -> [Int] {
        precondition(n >= 1 && n <= trainingSteps, "steps must be in 1...\(trainingSteps), got \(n)")
        let stride = trainingSteps / n
        return (0..<n).reversed().map { $0 * stride + stride - 1 }
    }

    /// The timestep t' that follows t in an N-step DDIM sampler (negative: clamp to ᾱ_0).
    public func previousTimestep(_ t: Int, steps n: Int) -> Int { t - trainingSteps / n }
}
