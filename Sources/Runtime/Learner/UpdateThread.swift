import Foundation
import Numerics
import Wire
import World
import ZMQ

/// The thread that owns the `PolicyLearner` (PROTOCOL.md §5.4: the learner keeps serving its
/// sockets while it computes an update). The I/O thread submits jobs; each finished job is
/// posted back and announced with one byte on an inproc PAIR socket the I/O loop polls.
///
/// `@unchecked Sendable`: the model is touched only by the update thread; `jobs`, `results`
/// and `stopping` only under `condition`.
final class UpdateThread: @unchecked Sendable {
    /// Work for the model.
    enum Job {
        /// One PPO update producing `version`, optionally followed by a checkpoint of it and
        /// by the preview images of the new weights (`preview`).
        case update([Trajectory], producing: UInt64, checkpoint: CheckpointRequest?, preview: Bool)
        /// A checkpoint of the current state.
        case checkpoint(CheckpointRequest)
    }

    /// Where and how to write a checkpoint.
    struct CheckpointRequest {
        let folder: CheckpointFolder
        let version: UInt64
        let runID: String
        let trajectoriesTrained: Int
        let recentUnsafeFractions: [Double]
        let extra: [String: String]
        let keep: Int
    }

    /// A checkpoint written: its file and how long the write took.
    struct Written {
        let url: URL
        let seconds: Double
    }

    /// The fixed prompts' images of the weights an update produced, and how long they took.
    struct Preview {
        let images: [Image]
        let seconds: Double
    }

    /// What a finished job produced.
    enum Result {
        /// An update finished: the new version, its trainable parameters, the model's metrics.
        case updated(version: UInt64, trainable: [String: Tensor], metrics: [String: Double], seconds: Double,
                     checkpoint: Swift.Result<Written, Error>?, preview: Preview?)
        /// An update threw; nothing changed.
        case updateFailed(version: UInt64, error: Error)
        /// A checkpoint job finished.
        case checkpointed(Swift.Result<Written, Error>)
    }

    private let model: PolicyLearner
    /// What preview images are sampled with (nil: the model has none, or grids are off).
    private let preview: (sampler: PreviewSampling, prompts: [String], seed: UInt64)?
    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var results: [Result] = []
    private var stopping = false
    private let context: ZMQContext
    private let wakeEndpoint: String
    private var thread: Thread?

    /// A thread for `model`, waking the I/O loop through a PAIR connected to `wakeEndpoint`;
    /// updates asked for a preview sample `preview`'s prompts with its seed.
    init(model: PolicyLearner, context: ZMQContext, wakeEndpoint: String,
         preview: (sampler: PreviewSampling, prompts: [String], seed: UInt64)? = nil) {
        self.model = model
        self.preview = preview
        self.context = context
        self.wakeEndpoint = wakeEndpoint
    }

    /// Starts the thread (the I/O side must have bound `wakeEndpoint`).
    func start() {
        let thread = Thread { [self] in self.main() }
        thread.name = "learner-update"
        thread.stackSize = 16 << 20
        self.thread = thread
        thread.start()
    }

    /// Queues a job.
    func submit(_ job: Job) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// The results finished since the last call, oldest first.
    func takeResults() -> [Result] {
        condition.lock()
        defer { condition.unlock() }
        let taken = results
        results.removeAll()
        return taken
    }

    /// Asks the thread to exit after its current job.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func main() {
        guard let wake = try? ZMQSocket(context, type: .pair), (try? wake.connect(wakeEndpoint)) != nil else {
            fatalError("learner update thread: cannot connect its wake socket to \(wakeEndpoint)")
        }
        defer { try? wake.close() }
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if stopping { condition.unlock(); return }
            let job = jobs.removeFirst()
            condition.unlock()

            let result = run(job)
            condition.lock()
            results.append(result)
            condition.unlock()
            try? wake.send([1], timeout: .zero)
        }
    }

    private func run(_ job: Job) -> Result {
        switch job {
        case let .update(trajectories, version, checkpoint, wantsPreview):
            let start = ContinuousClock.now
            do {
                let metrics = try model.update(trajectories)
                let seconds = (ContinuousClock.now - start).seconds
                let written = checkpoint.map(write)
                var sampled: Preview?
                if wantsPreview, let preview {
                    let previewStart = ContinuousClock.now
                    let images = preview.sampler.previewImages(prompts: preview.prompts, seed: preview.seed)
                    sampled = Preview(images: images, seconds: (ContinuousClock.now - previewStart).seconds)
                }
                return .updated(version: version, trainable: model.trainable, metrics: metrics, seconds: seconds,
                                checkpoint: written, preview: sampled)
            } catch {
                return .updateFailed(version: version, error: error)
            }
        case let .checkpoint(request):
            return .checkpointed(write(request))
        }
    }

    private func write(_ request: CheckpointRequest) -> Swift.Result<Written, Error> {
        let start = ContinuousClock.now
        let state = model.checkpointState()
        let checkpoint = LearnerCheckpoint(version: request.version, runID: request.runID,
                                           trajectoriesTrained: request.trajectoriesTrained,
                                           tensors: state.tensors, metadata: state.metadata,
                                           recentUnsafeFractions: request.recentUnsafeFractions)
        return Swift.Result {
            let url = try request.folder.save(checkpoint, extra: request.extra, keep: request.keep)
            return Written(url: url, seconds: (ContinuousClock.now - start).seconds)
        }
    }
}
