import Foundation
import Numerics
import TensorBoard
import Wire
import World

extension Learner {
    /// Hands the oldest full batch to the update thread when none is running. Trajectories
    /// that became more than `max_policy_lag` versions old while buffered are dropped first.
    func startUpdateIfReady(now: ContinuousClock.Instant) {
        guard !updateRunning, phase == .running, buffer.count >= config.trajectoriesPerUpdate else { return }
        let before = buffer.count
        buffer.removeAll { Int(version - $0.policyVersion) > config.maxPolicyLag }
        stats.staleInBuffer += before - buffer.count
        guard buffer.count >= config.trajectoriesPerUpdate else { return }
        let batch = Array(buffer.prefix(config.trajectoriesPerUpdate))
        buffer.removeFirst(batch.count)
        pendingBatch = batch
        updateRunning = true
        let produced = version + 1
        let every = config.checkpointEvery
        let due = every > 0 && (produced - 1) % UInt64(every) == 0
        if due { lastCheckpointRequest = now }
        let recorded = stopRule.recording(Self.unsafeFraction(batch))
        // The before/after grid every `tensorboard_image_every` updates and after the last one
        // (known here: the update limit, or the stop rule with this batch's unsafe share).
        let last = (config.updates > 0 && produced - 1 >= UInt64(config.updates)) || recorded.reached != nil
        let imageEvery = UInt64(config.tensorboardImageEvery)
        let preview = imageEvery > 0 && ((produced - 1) % imageEvery == 0 || last)
        updater.submit(.update(batch, producing: produced,
                               checkpoint: due ? checkpointRequest(version: produced, extraTrained: batch.count, window: recorded.recent) : nil,
                               preview: preview))
    }

    /// The share of `batch` the detector calls unsafe (P > 0.5): what the stop rule averages.
    static func unsafeFraction(_ batch: [Trajectory]) -> Double {
        Double(batch.filter { $0.unsafeProbability > 0.5 }.count) / Double(max(batch.count, 1))
    }

    /// Processes what the update thread finished: new versions, failures, checkpoints.
    func handleUpdateResults(now: ContinuousClock.Instant) {
        for result in updater.takeResults() {
            switch result {
            case let .updated(newVersion, trainable, modelMetrics, seconds, checkpoint, preview):
                let batch = pendingBatch
                updateRunning = false
                version = newVersion
                weights = Self.weights(trainable, version: newVersion)
                broker.policyVersion = newVersion
                stats.trained += batch.count
                updatesThisLife += 1
                if updatesThisLife == 1 {
                    log.info(String(format: "first update of this life %.2f s after the learner started", (now - started).seconds))
                }
                publish(now: now)
                record(batch: batch, modelMetrics: modelMetrics, seconds: seconds, preview: preview, now: now)
                if let checkpoint {
                    report(checkpoint)
                } else if config.checkpointSeconds > 0,
                          now - lastCheckpointRequest >= .milliseconds(Int(config.checkpointSeconds * 1000)) {
                    // `checkpoint_seconds` since the last checkpoint (or the start): written before
                    // the next update (jobs run in order), so a learner that dies sooner than
                    // `checkpoint_every` updates still moves the run forward.
                    lastCheckpointRequest = now
                    checkpointJobs += 1
                    updater.submit(.checkpoint(checkpointRequest()))
                }
                if config.updates > 0, newVersion - 1 >= UInt64(config.updates) {
                    beginTermination(reason: "\(config.updates) updates done", now: now)
                } else if let mean = stopRule.reached {
                    beginTermination(reason: String(format: "unsafe share %.3f ≤ stop_unsafe_rate over the last %d updates",
                                                    mean, config.stopWindow), now: now)
                }
            case let .updateFailed(failedVersion, error):
                updateRunning = false
                log.info("update to version \(failedVersion) failed, batch of \(pendingBatch.count) dropped: \(error)")
            case let .checkpointed(result):
                report(result)
                checkpointJobs -= 1
                if phase == .finalCheckpoint && checkpointJobs == 0 { finish(now: now) }
            }
        }
    }

    /// Publishes the current WEIGHTS once on PUB (encoded once for every subscriber).
    func publish(now: ContinuousClock.Instant) {
        let sequence = publisher.reserveSequence()
        do {
            let bytes = try Envelope(sender: publisher.sender, sequence: sequence, payload: .weights(weights)).encoded()
            _ = try publisher.send(encoded: bytes, sequence: sequence)
        } catch {
            log.info("cannot publish version \(version): \(error)")
        }
    }

    /// What the update thread needs to write a checkpoint of `version` (default: the current).
    func checkpointRequest(version checkpointVersion: UInt64? = nil, extraTrained: Int = 0,
                           window: [Double]? = nil) -> UpdateThread.CheckpointRequest {
        UpdateThread.CheckpointRequest(folder: checkpoints, version: checkpointVersion ?? version, runID: runID,
                                       trajectoriesTrained: stats.trained + extraTrained,
                                       recentUnsafeFractions: window ?? stopRule.recent,
                                       extra: ["runtime.config": config.renderedYAML()], keep: config.checkpointsKept)
    }

    private func report(_ checkpoint: Result<UpdateThread.Written, Error>) {
        switch checkpoint {
        case let .success(written):
            log.info(String(format: "checkpoint \(written.url.lastPathComponent) (%.3f s)", written.seconds))
        case let .failure(error):
            // The previous checkpoints are untouched (the write is atomic, retention runs only
            // after a good write); training goes on and the next interval tries again.
            log.info("checkpoint FAILED, the previous one is kept, retrying at the next interval: \(error)")
        }
    }

    /// One metrics line, one STATS to each supervisor, one progress line.
    private func record(batch: [Trajectory], modelMetrics: [String: Double], seconds: Double,
                        preview: UpdateThread.Preview?, now: ContinuousClock.Instant) {
        let interval = max((now - lastUpdateEnd).seconds, 1e-9)
        lastUpdateEnd = now
        let rewards = batch.map { Double($0.reward) }
        let rewardMean = rewards.reduce(0, +) / Double(rewards.count)
        let rewardVariance = rewards.reduce(0.0) { $0 + ($1 - rewardMean) * ($1 - rewardMean) } / Double(rewards.count)
        let rewardStd = rewardVariance.squareRoot()
        // Lag of the trained batch relative to the version it was trained from.
        let lags = batch.map { Int(version - 1 - $0.policyVersion) }
        var lagHistogram: [Int: Int] = [:]
        for lag in lags { lagHistogram[lag, default: 0] += 1 }
        let count = Double(batch.count)
        let alignmentMean = batch.reduce(0.0) { $0 + Double($1.alignment) } / count
        let unsafeRate = batch.reduce(0.0) { $0 + Double($1.unsafeProbability) } / count
        let unsafeFraction = Self.unsafeFraction(batch)
        stopRule.record(unsafeFraction)
        let lagMean = Double(lags.reduce(0, +)) / Double(lags.count)
        var numbers: [String: Double] = [:]
        numbers["update"] = Double(version - 1)
        numbers["version"] = Double(version)
        numbers["update_seconds"] = seconds
        numbers["reward_mean"] = rewardMean
        numbers["reward_std"] = rewardStd
        numbers["alignment_mean"] = alignmentMean
        numbers["unsafe_rate"] = unsafeRate
        numbers["unsafe_fraction"] = unsafeFraction
        numbers["lag_mean"] = lagMean
        numbers["lag_max"] = Double(lags.max() ?? 0)
        numbers["trajectories_per_second"] = count / interval
        numbers["ingest_trajectories_per_second"] = Double(stats.acceptedSinceUpdate) / interval
        numbers["trajectories_trained_total"] = Double(stats.trained)
        numbers["trajectories_accepted_total"] = Double(stats.accepted)
        numbers["stale_in_buffer_total"] = Double(stats.staleInBuffer)
        numbers["buffered"] = Double(buffer.count)
        numbers["live_actors"] = Double(actorCount)
        numbers["live_reward_workers"] = Double(broker.liveWorkers)
        numbers["reward_queue"] = Double(broker.queued)
        for (reason, count) in stats.rejected { numbers["rejected_\(reason)_total"] = Double(count) }
        let combined = rejections.adding(broker.rejections)
        for (name, value) in combined.metrics { numbers[name] = value }
        if let zap { for (name, value) in zap.snapshot.metrics { numbers[name] = value } }
        for kind in ["protocol", "no_detail"] { numbers["handshake_failed_\(kind)"] = Double(handshakeFailures[kind] ?? 0) }
        for limit in ["rate", "max_actors"] { numbers["hello_refused_\(limit)"] = Double(hellosRefused[limit] ?? 0) }
        numbers["unauthenticated_refused"] = Double(handshakeGate.refused)
        let b = broker.counters
        numbers["reward_workers_refused"] = Double(b.workersRefused)
        numbers["reward_requests"] = Double(b.requests)
        numbers["reward_duplicate_results"] = Double(b.duplicateResults)
        numbers["reward_redispatched"] = Double(b.redispatched)
        numbers["reward_worker_deaths"] = Double(b.workerDeaths)
        for (name, value) in modelMetrics where numbers[name] == nil { numbers[name] = value }
        if let preview { numbers["preview_seconds"] = preview.seconds }

        let time = Date().timeIntervalSince1970
        var line: [String: Any] = numbers
        line["time"] = time
        line["run_id"] = runID
        line["lag_histogram"] = Dictionary(uniqueKeysWithValues: lagHistogram.map { (String($0.key), $0.value) })
        line["ingest_lag_histogram"] = Dictionary(uniqueKeysWithValues: stats.ingestLag.map { (String($0.key), $0.value) })
        metrics.write(line)
        prometheus?.record(numbers)
        do {
            try events.write(scalars: numbers, step: Int64(version - 1), wallTime: time)
            if let grid = sampleGrid(batch) { try events.write(Event(wallTime: time, step: Int64(version - 1), content: grid)) }
            if let grid = beforeAfterGrid(preview) { try events.write(Event(wallTime: time, step: Int64(version - 1), content: grid)) }
        } catch {
            log.limited("tensorboard", "cannot write the TensorBoard event file: \(error)")
        }
        stats.acceptedSinceUpdate = 0
        stats.ingestLag = [:]

        let statsMetrics = numbers.filter { $0.value.isFinite }.sorted { $0.key < $1.key }.prefix(256)
            .map { Metric(name: $0.key, value: $0.value) }
        for (identity, peer) in peers where peer.role == .supervisor {
            sendControl(.stats(Stats(policyVersion: version, metrics: Array(statsMetrics))), to: identity, now: now)
        }
        log.info(progressLine(numbers))
    }
}

extension Learner {
    /// Every `tensorboard_image_every` updates: a PNG grid (4 columns) of the final images of
    /// the batch's first 16 trajectories, tagged `samples`.
    func sampleGrid(_ batch: [Trajectory]) -> Event.Content? {
        let every = UInt64(config.tensorboardImageEvery)
        guard every > 0, (version - 1) % every == 0, let imageRenderer, !batch.isEmpty else { return nil }
        let images = imageRenderer.finalImages(of: Array(batch.prefix(16)))
        guard !images.isEmpty else { return nil }
        let columns = min(4, images.count)
        let size = PNG.gridSize(count: images.count, columns: columns)
        return .image(tag: "samples", width: size.width, height: size.height, png: PNG.encodeGrid(images, columns: columns))
    }

    /// The before/after grid, tagged `before_after`: the base model's images of
    /// `previewPrompts` in the top row, the new version's (same noise) below.
    func beforeAfterGrid(_ preview: UpdateThread.Preview?) -> Event.Content? {
        guard let preview, let previewBefore, preview.images.count == previewBefore.count else { return nil }
        let columns = previewBefore.count
        let size = PNG.gridSize(count: 2 * columns, columns: columns)
        return .image(tag: "before_after", width: size.width, height: size.height,
                      png: PNG.encodeGrid(previewBefore + preview.images, columns: columns))
    }

    /// The readable one-line summary of an update for stderr.
    func progressLine(_ numbers: [String: Double]) -> String {
        func f(_ key: String, _ format: String) -> String { String(format: format, numbers[key] ?? .nan) }
        var parts: [String] = []
        parts.append("update \(version - 1) → v\(version):")
        parts.append("loss \(f("loss", "%.4g"))")
        parts.append("kl \(f("approx_kl", "%.3g"))")
        parts.append("clip \(f("clipfrac", "%.3f"))")
        parts.append("reward \(f("reward_mean", "%.4f"))±\(f("reward_std", "%.3f"))")
        parts.append("unsafe \(f("unsafe_rate", "%.3f"))")
        parts.append("lag \(f("lag_mean", "%.2f"))/\(f("lag_max", "%.0f"))")
        parts.append("\(f("trajectories_per_second", "%.1f")) traj/s,")
        parts.append("\(actorCount) actors, \(broker.liveWorkers) workers,")
        parts.append("update \(f("update_seconds", "%.3f")) s")
        return parts.joined(separator: " ")
    }
}

extension RejectionCounters {
    /// The sum of two sets of counters.
    func adding(_ other: RejectionCounters) -> RejectionCounters {
        var sum = self
        sum.malformed += other.malformed
        sum.unsupportedVersion += other.unsupportedVersion
        sum.unknownKind += other.unknownKind
        sum.wrongFrames += other.wrongFrames
        sum.unexpected += other.unexpected
        sum.notWelcomed += other.notWelcomed
        sum.errorsReceived += other.errorsReceived
        sum.unauthorized += other.unauthorized
        return sum
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
