import Checkpoint
import Foundation
import World

/// Everything a distributed ShieldDiff run is configured by; every role reads the same one.
///
/// Defaults live here and nowhere else. The YAML keys (and `--set` keys) are the snake_case
/// names in `RunConfig.fields`, which also carries the help text; nested blocks are
/// `endpoints.*` and `hyperparameters.*`.
public struct RunConfig: Codable, Equatable, Sendable {
    /// Where the learner binds and every other process connects (PROTOCOL.md §3).
    public struct Endpoints: Codable, Equatable, Sendable {
        /// Learner ROUTER for HELLO/WELCOME/HEARTBEAT/batches/STATS/TERMINATE.
        public var control = "tcp://127.0.0.1:5555"
        /// Learner PUB for WEIGHTS.
        public var weights = "tcp://127.0.0.1:5556"
        /// Broker ROUTER the actors send reward requests to.
        public var rewardFrontend = "tcp://127.0.0.1:5557"
        /// Broker ROUTER the reward workers connect to.
        public var rewardBackend = "tcp://127.0.0.1:5558"
        /// Actors: a node-local `shielddiff relay` (ipc://) to take WEIGHTS from instead of
        /// `weights`; the relay's own: where it serves them. Empty: no relay.
        public var weightsRelay = ""
        /// The default endpoints.
        public init() {}
    }

    /// Who may join the run (README "Security"; PROTOCOL.md §3.2).
    public struct Security: Codable, Equatable, Sendable {
        /// `curve`: CURVE on all four endpoints with the learner's allowlist; `none`: plaintext,
        /// said in so many words (a learner on a non-loopback endpoint then warns at start);
        /// empty: plaintext, allowed only when every endpoint is loopback, ipc or inproc.
        public var mode = ""
        /// This process's secret key file (`shielddiff keys generate`), mode 0600.
        public var key = ""
        /// Peers: the learner's public key file (`NAME.pub`).
        public var learnerPublicKey = ""
        /// Learner: the allowlist file (`shielddiff keys allow`); re-read on SIGHUP.
        public var allowlist = ""
        /// The default: unset (plaintext on loopback only).
        public init() {}
    }

    /// Bounds on what peers (welcome or not) may make the learner hold; a peer past one gets
    /// ERROR and is not welcomed, and the run goes on.
    public struct Limits: Codable, Equatable, Sendable {
        /// Most live actors on control; a HELLO beyond gets ERROR(OVERLOADED).
        public var maxActors = 256
        /// Most live reward workers on the backend; a HELLO beyond gets ERROR(OVERLOADED).
        public var maxRewardWorkers = 256
        /// Most HELLOs the learner handles per second (control and backend together); more
        /// get ERROR(OVERLOADED), so a reconnect storm cannot starve training.
        public var maxHellosPerSecond = 100
        /// A connection that has not finished its (CURVE) handshake after this is dropped
        /// (`ZMQ_HANDSHAKE_IVL`), which bounds the unauthenticated connections held.
        public var handshakeTimeoutMs = 5000
        /// Most connections in their handshake at once (all endpoints); one accepted beyond
        /// is dropped at once, so a flood of idle connections cannot exhaust the learner.
        public var maxUnauthenticatedConnections = 128
        /// The defaults, for one learner.
        public init() {}
    }

    /// What the model layer needs; the runtime passes these through untouched.
    ///
    /// The defaults are the world's, chosen by measurement (`shielddiff train` then
    /// `shielddiff compare`, 200 images per set; README "Choosing the defaults"): the full
    /// denoiser at lr 1e-4, an optimizer step every 8 trajectories, clip ε 1e-3 and the final
    /// near-deterministic step left untrained took train-unsafe from 84% to 1% unsafe in 16
    /// updates with benign fidelity within 1 point. LoRA (rank 4 on every layer) at lr 3e-3
    /// removed the stripes as fast but lost 6 points of benign fidelity.
    public struct Hyperparameters: Codable, Equatable, Sendable {
        /// AdamW learning rate.
        public var lr = 1e-4
        /// AdamW decoupled weight decay.
        public var weightDecay = 1e-4
        /// Largest global gradient norm (clipped above it).
        public var maxGradNorm = 1.0
        /// PPO clip range ε of the importance ratio.
        public var clipEpsilon = 1e-3
        /// Advantages are clamped to [−adv_clip, adv_clip].
        public var advClip = 5.0
        /// Rewards kept per prompt for the per-prompt advantage statistics.
        public var buffer = 16
        /// Rewards a prompt needs before its own statistics are used.
        public var minCount = 16
        /// Trajectories whose gradients are accumulated into one optimizer step; 0 = the
        /// whole update's batch (one step per pass).
        public var trajectoriesPerStep = 8
        /// Passes over each batch per update.
        public var innerEpochs = 1
        /// Steps whose DDIM σ_t is below this are not trained (0 = every step). The world's
        /// 10-step sampler ends with σ ≈ 0.006 (the others ≥ 0.14); that step's log-prob
        /// gradient, ∝ 1/σ, would swamp the update with noise.
        public var minTrainedSigma = 0.05
        /// Fraction of each trajectory's steps trained on per pass.
        public var timestepFraction = 1.0
        /// Classifier-free guidance scale w.
        public var guidance = 2.0
        /// DDIM sampling steps N.
        public var steps = 10
        /// DDIM η (> 0 makes every step a Gaussian policy).
        public var eta = 1.0
        /// Weight of the alignment term of the reward.
        public var wAlign = 1.0
        /// Weight of the unsafe-probability term of the reward.
        public var wUnsafe = 1.0
        /// LoRA rank of the trainable adapters (0 = train the full denoiser, the measured
        /// default; LoRA adapts every linear layer and convolution).
        public var loraRank = 0
        /// Latent floats D per trajectory step (the world's denoiser: 16×16×12 = 3072).
        public var latentSize = 3072
        /// γ of the benign anchor (PPO-ptx): the weight of the velocity MSE between the denoiser
        /// and the base model on unstriped data-distribution pairs, added to every optimizer
        /// step; 0 = PPO alone. Measured (README, "Choosing the defaults").
        public var anchorWeight = 0.2
        /// Pairs of the benign anchor per optimizer step.
        public var anchorBatch = 16
        /// Threads the learner splits each optimizer step among (each with its own copy of the
        /// denoiser and one BLAS thread); 0 = one per core. Default 1: with 2 the real-model
        /// process test broke its model in 3 of 5 runs (1 thread: 0 of 7), not yet explained.
        public var learnerThreads = 1
        /// The default hyperparameters.
        public init() {}
    }

    /// Adversarial DDPO (issue 13 point 5): part of the actors' samples come from attack-like
    /// inputs, so the fine-tuning learns to refuse them too. Both shares 0 (the default) =
    /// plain ShieldDiff. Measured in README "Attacks and the safety report".
    public struct Adversarial: Codable, Equatable, Sendable {
        /// Share of the drawn prompts an actor replaces by an adversarial rewrite of the same
        /// prompt (`World.AdversarialRewrite`: the prompt's own explicit words repeated,
        /// words shuffled, unknown words padded in — what query-search and Ring-A-Bell find).
        public var textShare = 0.0
        /// Share of the trajectories sampled (and trained) with the prompt's encoding pushed
        /// along the concept vector, encoding + η·vector (what embedding injection feeds).
        public var embeddingShare = 0.0
        /// η of that push (Ring-A-Bell's and `shielddiff attack`'s default is 3).
        public var eta = 3.0
        /// How each pushed trajectory's η is chosen: `fixed` (always `eta`) or `uniform`
        /// (uniform in (0, `eta`]): small pushes leave some samples unstriped, so the pushed
        /// group has rewards to compare.
        public var etaDraw = "fixed"
        /// The ways `eta_draw` may name.
        public static let etaDraws = ["fixed", "uniform"]
        /// Off.
        public init() {}
    }

    /// Which model implementation the factory builds: `diffusion`, or `test-linear` (the
    /// protocol-conformance policy of runtime tests and benchmarks; never the default).
    public var model = "diffusion"
    /// Run identifier; empty = generated by the learner (and kept in its checkpoints).
    public var runID = ""
    /// Folder of the run's files: resolved config, metrics, default checkpoints.
    public var runDir = "runs/default"
    /// A checkpoint (a learner checkpoint of a fine-tuning run, or a diffusion checkpoint)
    /// whose denoiser the policy starts from instead of the shipped one, e.g. a plain
    /// ShieldDiff run before an adversarial phase (a curriculum). The benign anchor still
    /// pulls toward the shipped base model; the optimizer starts fresh. Full fine-tuning
    /// only (`hyperparameters.lora_rank: 0`). Empty = the shipped base model.
    public var initCheckpoint = ""
    /// Checkpoint folder; empty = `<run_dir>/checkpoints`.
    public var checkpointDir = ""
    /// JSON-lines metrics file, one line per update; empty = `<run_dir>/metrics.jsonl`.
    public var metricsFile = ""
    /// The four endpoints.
    public var endpoints = Endpoints()
    /// Actor processes the supervisor (`train`) starts.
    public var actors = 2
    /// Reward-worker processes the supervisor starts; 0 = actors score in-process.
    public var rewardWorkers = 1
    /// A reward worker of your own for `train` to start instead of `shielddiff reward-worker`:
    /// a command line split on whitespace (run through /usr/bin/env), given `--endpoint`,
    /// `--instance`, `--credit` and `--parent-pid` (proto/python's worker flags). Empty = ours.
    public var rewardWorkerCommand = ""
    /// World prompt set(s) the actors draw prompts from; comma-separated names draw from
    /// their union (e.g. "train-unsafe,benign"); `file:PATH` is a prompt file of free text.
    public var promptSet = "train-unsafe"
    /// Trajectories an actor samples and sends per TRAJECTORY_BATCH.
    public var trajectoriesPerBatch = 8
    /// Trajectories per learner update.
    public var trajectoriesPerUpdate = 32
    /// Most trajectories the learner buffers beyond the one being trained; more are rejected.
    public var maxBufferedTrajectories = 32
    /// Base seed: the learner's initial weights and every actor's prompt/noise stream.
    public var seed: UInt64 = 0
    /// Trajectories more than this many versions behind the learner are dropped.
    public var maxPolicyLag = 4
    /// Most unacknowledged batches per actor (sent in WELCOME).
    public var maxInFlightBatches = 2
    /// Heartbeat interval in milliseconds (sent in WELCOME).
    public var heartbeatIntervalMs = 1000
    /// Missed heartbeat intervals after which a silent peer is declared dead.
    public var liveness = 3
    /// First reconnect delay in milliseconds after the learner is declared dead (doubles).
    public var reconnectDelayMs = 1000
    /// Largest reconnect delay in milliseconds.
    public var reconnectDelayMaxMs = 32000
    /// An actor resends a reward request unanswered for this long, in milliseconds.
    public var rewardTimeoutMs = 30000
    /// Most reward requests the broker queues; more get ERROR(OVERLOADED).
    public var rewardQueueLimit = 256
    /// Requests a reward worker takes at once (READY credit).
    public var rewardWorkerCredit = 1
    /// Most learner updates in the run; 0 = until stopped (or until `stop_unsafe_rate`).
    public var updates = 80
    /// The run ends early once the share of detector-unsafe trajectories (P > 0.5), averaged
    /// over the last `stop_window` updates, is at most this; 0 = never. Training past that
    /// point only chases the alignment term, which costs fidelity (measured before the
    /// final step was excluded: benign fidelity −1.5 points at the stop, −7 ten updates on).
    public var stopUnsafeRate = 0.05
    /// Updates averaged for `stop_unsafe_rate`.
    public var stopWindow = 5
    /// Checkpoint every K updates (and at the end); 0 = only at the end.
    public var checkpointEvery = 10
    /// Checkpoint files kept (older ones are deleted).
    public var checkpointsKept = 3
    /// Also checkpoint after an update once this many seconds passed since the last
    /// checkpoint; 0 = off. A learner that dies before `checkpoint_every` updates still keeps
    /// its progress. Measured: a write of the full denoiser with its optimizer state takes
    /// 0.01–0.08 s, an update 4–16 s, so with 1 s every real update is kept for ≤ 2% time.
    public var checkpointSeconds = 1.0
    /// Every K updates (and after the last) the learner adds two grids to its TensorBoard
    /// events: the trained batch's final images, and the base model above the policy on six
    /// fixed prompts with fixed noise (`previewPrompts`); 0 = no images.
    public var tensorboardImageEvery = 10
    /// Learner HTTP port serving Prometheus's `/metrics` (every metrics-line number as a gauge); 0 = off.
    public var metricsPort = 0
    /// IPv4 address the `/metrics` port listens on (plain HTTP: loopback unless scraped from elsewhere).
    public var metricsAddress = "127.0.0.1"
    /// Supervisor: first restart delay in milliseconds for a child that died (doubles).
    public var restartDelayMs = 500
    /// Supervisor: largest restart delay in milliseconds.
    public var restartDelayMaxMs = 10000
    /// Grace period in milliseconds for TERMINATE acknowledgements before peers are given up
    /// (learner) or killed (supervisor).
    public var shutdownTimeoutMs = 10000
    /// Model hyperparameters.
    public var hyperparameters = Hyperparameters()
    /// Adversarial DDPO: attack-like prompts and encodings in the actors' samples.
    public var adversarial = Adversarial()
    /// CURVE keys and the allowlist.
    public var security = Security()
    /// Bounds on what peers may make the learner hold.
    public var limits = Limits()

    /// The default configuration.
    public init() {}
}

extension RunConfig {
    /// The checkpoint folder, `checkpoint_dir` or its default under `run_dir`.
    public var resolvedCheckpointDir: URL {
        URL(fileURLWithPath: checkpointDir.isEmpty ? runDir + "/checkpoints" : checkpointDir)
    }

    /// The metrics file, `metrics_file` or its default under `run_dir`.
    public var resolvedMetricsFile: URL {
        URL(fileURLWithPath: metricsFile.isEmpty ? runDir + "/metrics.jsonl" : metricsFile)
    }

    /// The prompts of `prompt_set`: each named set's or file's prompts, in order (validated
    /// when the config was read; a file that broke since then stops the process, naming it).
    public var prompts: [TextPrompt] {
        promptSetNames(promptSet).flatMap { name in
            do { return try promptSetEntry(name) } catch { fatalError("prompt_set: \(error)") }
        }
    }

    /// Why `text` is not a list of prompt sets, or nil.
    static func promptSetProblem(_ text: String) -> String? {
        let names = promptSetNames(text)
        if names.isEmpty { return "names no prompt set" }
        for name in names {
            do { _ = try promptSetEntry(name) } catch { return "\(error)" }
        }
        return nil
    }

    /// `limits.handshake_timeout_ms` as a duration.
    public var handshakeLimit: Duration { .milliseconds(limits.handshakeTimeoutMs) }

    /// `heartbeat_interval_ms` as a duration.
    public var heartbeatInterval: Duration { .milliseconds(heartbeatIntervalMs) }

    /// Silence after which a peer is dead: liveness × heartbeat interval.
    public var deadAfter: Duration { .milliseconds(heartbeatIntervalMs * liveness) }

    /// Digest of what must agree between learner and actors for trajectories to fit the
    /// model (model kind, steps, latent size, LoRA rank, guidance, η), sent in HELLO/WELCOME.
    public var configDigest: String {
        let h = hyperparameters
        let text = "\(model)|steps=\(h.steps)|latent=\(h.latentSize)|lora=\(h.loraRank)|w=\(h.guidance)|eta=\(h.eta)"
        var hash = FNV1a()
        hash.mix(bytes: text.utf8)
        return "\(model)-n\(h.steps)-d\(h.latentSize)-" + hash.hex
    }
}

/// A `prompt_set` entry that names no prompts.
struct PromptSetEntryError: Error, CustomStringConvertible {
    let description: String
}

/// The prompts of one `prompt_set` entry: a grammar or free-text set's name, or `file:PATH`.
private func promptSetEntry(_ name: String) throws -> [TextPrompt] {
    if let set = PromptSet(rawValue: name) { return set.prompts.map(TextPrompt.init) }
    if let set = FreeTextSet(rawValue: name) { return set.prompts }
    guard name.hasPrefix("file:") else {
        let known = PromptSet.allCases.map(\.rawValue) + FreeTextSet.allCases.map(\.rawValue)
        throw PromptSetEntryError(description: "unknown prompt set '\(name)' (known: \(known.joined(separator: ", ")), or file:PATH)")
    }
    let path = String(name.dropFirst(5))
    guard let data = FileManager.default.contents(atPath: path) else {
        throw PromptSetEntryError(description: "cannot read prompt file '\(path)'")
    }
    do {
        let prompts = try PromptFile.parse(data)
        guard !prompts.isEmpty else { throw PromptSetEntryError(description: "prompt file '\(path)' has no prompts") }
        return prompts
    } catch let error as PromptFile.LineError {
        throw PromptSetEntryError(description: "prompt file '\(path)': \(error)")
    }
}

/// The comma-separated names of a `prompt_set` value.
private func promptSetNames(_ text: String) -> [String] {
    text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}
