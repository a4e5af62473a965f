import Foundation

/// AdamW (Loshchilov & Hutter): Adam with bias correction and weight decay decoupled from
/// the gradient, over a `ParameterStore`'s flat buffers:
///
///     g  ← grad · clip                       (clip = min(1, maxNorm / ‖grad‖))
///     m  ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
///     θ  ← θ − lr·λ·mask·θ − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
///
/// `mask` is 0 for parameters exempt from decay (biases, norm weights) and 1 otherwise.
/// Every update is one loop over the store's buffers.
public final class AdamW {
    /// Hyperparameters; `learningRate` may be changed between steps by a schedule.
    public struct Config: Sendable, Equatable {
        /// Step size lr.
        public var learningRate: Float
        /// Decay rate β1 of the first-moment average.
        public var beta1: Float = 0.9
        /// Decay rate β2 of the second-moment average.
        public var beta2: Float = 0.999
        /// ε added to √v̂ so that parameters with tiny gradients do not take huge steps.
        public var eps: Float = 1e-8
        /// Decoupled weight decay λ (applied as θ ← θ − lr·λ·θ).
        public var weightDecay: Float = 0.01
        /// Largest global gradient L2 norm; larger gradients are scaled down to it. nil: no clipping.
        public var maxGradNorm: Float? = nil

        public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                    weightDecay: Float = 0.01, maxGradNorm: Float? = nil) {
            (self.learningRate, self.beta1, self.beta2, self.eps) = (learningRate, beta1, beta2, eps)
            (self.weightDecay, self.maxGradNorm) = (weightDecay, maxGradNorm)
        }
    }

    /// Everything a checkpoint must keep to resume the optimizer exactly.
    public struct State: Sendable, Equatable {
        /// Steps taken so far (t of the bias correction).
        public var step: Int
        /// First-moment estimate, aligned with the store's flat buffer.
        public var m: [Float]
        /// Second-moment estimate, aligned with the store's flat buffer.
        public var v: [Float]

        public init(step: Int, m: [Float], v: [Float]) { (self.step, self.m, self.v) = (step, m, v) }
    }

    public var config: Config
    private let store: ParameterStore
    private let decayMask: [Float]  // mask: (P), 1 where weight decay applies
    private var stepCount = 0
    private var m: [Float]          // m: (P)
    private var v: [Float]          // v: (P)

    /// `store` must hold every parameter already: the moments are sized to it here.
    /// `noDecay` names the parameters exempt from weight decay (commonly every parameter
    /// of rank 1: biases and normalization weights).
    public init(_ store: ParameterStore, config: Config,
                noDecay: (ParameterStore.Parameter) -> Bool = { _ in false }) {
        self.store = store
        self.config = config
        var mask = [Float](repeating: 1, count: store.count)
        for p in store.parameters where noDecay(p) {
            for i in p.offset..<(p.offset + p.count) { mask[i] = 0 }
        }
        decayMask = mask
        m = [Float](repeating: 0, count: store.count)
        v = m
    }

    /// The optimizer's state, for checkpoints.
    public var state: State { State(step: stepCount, m: m, v: v) }

    /// Restores a state saved by `state` for a store of the same size.
    public func restore(_ state: State) throws {
        guard state.m.count == store.count, state.v.count == store.count else {
            throw AdamWError.stateSizeMismatch(m: state.m.count, v: state.v.count, parameters: store.count)
        }
        guard state.step >= 0 else { throw AdamWError.negativeStep(state.step) }
        (stepCount, m, v) = (state.step, state.m, state.v)
    }

    /// Clips the store's gradients (if `config.maxGradNorm` is set) and updates its values.
    /// Returns the gradient norm before clipping. Throws, leaving parameters and state
    /// untouched, if that norm is not finite.
    @discardableResult
    public func step() throws -> Float {
        precondition(store.count == m.count, "AdamW: store grew from \(m.count) to \(store.count) parameters")
        let grads = store.grads
        let norm = gradientNorm(UnsafeBufferPointer(grads))
        guard norm.isFinite else { throw AdamWError.nonFiniteGradient(norm: norm) }
        if let maxNorm = config.maxGradNorm { scaleToMaxNorm(grads, norm: norm, maxNorm: maxNorm) }

        stepCount += 1
        let c = config
        let correction1 = 1 - pow(Double(c.beta1), Double(stepCount))
        let correction2 = 1 - pow(Double(c.beta2), Double(stepCount))
        let stepSize = Float(Double(c.learningRate) / correction1)
        let rootCorrection2 = Float(correction2.squareRoot())
        let decay = c.learningRate * c.weightDecay
        let values = store.values
        m.withUnsafeMutableBufferPointer { mb in
            v.withUnsafeMutableBufferPointer { vb in
                decayMask.withUnsafeBufferPointer { mask in
                    for i in 0..<values.count {
                        let g = grads[i]
                        mb[i] = c.beta1 * mb[i] + (1 - c.beta1) * g
                        vb[i] = c.beta2 * vb[i] + (1 - c.beta2) * g * g
                        let denominator = vb[i].squareRoot() / rootCorrection2 + c.eps
                        values[i] -= decay * mask[i] * values[i] + stepSize * mb[i] / denominator
                    }
                }
            }
        }
        return norm
    }
}

/// What can go wrong restoring or stepping an `AdamW` optimizer.
public enum AdamWError: Error, CustomStringConvertible, Equatable {
    case stateSizeMismatch(m: Int, v: Int, parameters: Int)
    case negativeStep(Int)
    case nonFiniteGradient(norm: Float)

    public var description: String {
        switch self {
        case let .stateSizeMismatch(m, v, parameters):
            "AdamW state has \(m) first and \(v) second moments for a store of \(parameters) parameters"
        case let .negativeStep(step):
            "AdamW state has negative step count \(step)"
        case let .nonFiniteGradient(norm):
            "AdamW: gradient norm is \(norm); refusing to step"
        }
    }
}

/// The L2 norm of a flat gradient buffer, accumulated in Double.
public func gradientNorm(_ grads: UnsafeBufferPointer<Float>) -> Float {
    var sum = 0.0
    for g in grads { sum += Double(g) * Double(g) }
    return Float(sum.squareRoot())
}

/// Scales `grads` so that their L2 norm is at most `maxNorm` and returns the norm before
/// clipping. The same 1e-6 guard as PyTorch's `clip_grad_norm_` keeps a zero norm finite.
@discardableResult
public func clipGradientNorm(_ grads: UnsafeMutableBufferPointer<Float>, maxNorm: Float) -> Float {
    let norm = gradientNorm(UnsafeBufferPointer(grads))
    scaleToMaxNorm(grads, norm: norm, maxNorm: maxNorm)
    return norm
}

private func scaleToMaxNorm(_ grads: UnsafeMutableBufferPointer<Float>, norm: Float, maxNorm: Float) {
    let coefficient = maxNorm / (norm + 1e-6)
    guard coefficient < 1 else { return }
    for i in grads.indices { grads[i] *= coefficient }
}
