import Foundation
import Numerics

extension ParameterStore {
    /// A file holding every parameter under its own name, each extra tensor under
    /// `CheckpointExtras.extraPrefix + name`, and the extras' metadata.
    public func checkpoint(extras: CheckpointExtras = .init()) throws(CheckpointError) -> SafeTensorsFile {
        var tensors: [String: Tensor] = [:]
        tensors.reserveCapacity(parameters.count + extras.tensors.count)
        for p in parameters {
            guard !p.name.hasPrefix(CheckpointExtras.extraPrefix) else {
                throw CheckpointError(.invalidName, source: "<memory>",
                                      "parameter \(quoted(p.name)) uses the prefix \(quoted(CheckpointExtras.extraPrefix)) reserved for extra tensors")
            }
            tensors[p.name] = tensor(p)
        }
        for (name, t) in extras.tensors { tensors[CheckpointExtras.extraPrefix + name] = t }
        return SafeTensorsFile(tensors: tensors, metadata: extras.metadata)
    }

    /// Writes `checkpoint(extras:)` to `url` atomically.
    public func saveCheckpoint(to url: URL, extras: CheckpointExtras = .init()) throws(CheckpointError) {
        try checkpoint(extras: extras).write(to: url)
    }

    /// Reads the checkpoint at `url` into this store (see `restore(from:)`).
    @discardableResult
    public func loadCheckpoint(from url: URL) throws(CheckpointError) -> CheckpointExtras {
        try restore(from: SafeTensorsFile(contentsOf: url), source: url.path)
    }

    /// Overwrites every parameter from `file` and returns its extras.
    ///
    /// All or nothing: the names must match the store's parameters exactly, with equal shapes
    /// and finite values, or nothing is written and the error lists every missing, unexpected
    /// and mismatched name.
    @discardableResult
    public func restore(from file: SafeTensorsFile) throws(CheckpointError) -> CheckpointExtras {
        try restore(from: file, source: "<memory>")
    }

    private func restore(from file: SafeTensorsFile, source: String) throws(CheckpointError) -> CheckpointExtras {
        var extras = CheckpointExtras(metadata: file.metadata)
        var unexpected: [String] = []
        for (name, t) in file.tensors {
            if name.hasPrefix(CheckpointExtras.extraPrefix) {
                extras.tensors[String(name.dropFirst(CheckpointExtras.extraPrefix.count))] = t
            } else if parameter(named: name) == nil {
                unexpected.append(name)
            }
        }
        var missing: [String] = []
        var mismatched: [String] = []
        for p in parameters {
            guard let t = file.tensors[p.name] else { missing.append(p.name); continue }
            if t.shape != p.shape { mismatched.append("\(quoted(p.name)) is \(t.shape) in the file, \(p.shape) in the model") }
        }
        guard missing.isEmpty, unexpected.isEmpty, mismatched.isEmpty else {
            func list(_ label: String, _ items: [String], quote: Bool) -> String? {
                guard !items.isEmpty else { return nil }
                let shown = items.sorted().prefix(8).map { quote ? quoted($0) : $0 }
                let more = items.count > shown.count ? " and \(items.count - shown.count) more" : ""
                return "\(label) (\(items.count)): " + shown.joined(separator: ", ") + more
            }
            let parts = [list("missing from the file", missing, quote: true),
                         list("not in the model", unexpected, quote: true),
                         list("shape mismatch", mismatched, quote: false)].compactMap { $0 }
            throw CheckpointError(.parameterMismatch, source: source,
                                  "checkpoint does not match the model's parameters; " + parts.joined(separator: "; "))
        }
        for p in parameters {
            if let i = file.tensors[p.name]!.data.firstIndex(where: { !$0.isFinite }) {
                throw CheckpointError(.nonFinite, source: source,
                                      "parameter \(quoted(p.name)) holds \(file.tensors[p.name]!.data[i]) at element \(i)")
            }
        }
        for p in parameters { set(p, file.tensors[p.name]!) }
        return extras
    }
}
