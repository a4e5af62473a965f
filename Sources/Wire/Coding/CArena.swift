import Foundation
import Numerics

/// The C memory of one encode: the protobuf-c message structs, strings and small arrays
/// that `pack` reads, all freed together when the arena goes away.
///
/// Large float arrays (tensor data) are not copied but lent: `lend` records where their
/// pointer goes, and `withLoans` pins every lent array for the duration of its body, one
/// nested `withUnsafeBufferPointer` per array, so the stack depth grows with the number of
/// lent arrays (bounded by `WireLimits.maxTrajectories` / `maxTensors`).
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []
    private var loans: [(floats: [Float], lend: (UnsafeBufferPointer<Float>) -> Void)] = []

    deinit {
        for allocation in allocations { free(allocation) }
    }

    /// A C copy of `value` (a protobuf-c struct) owned by the arena.
    func new<T>(_ value: T) -> UnsafeMutablePointer<T> {
        let pointer = allocate(T.self, count: 1)
        pointer.initialize(to: value)
        return pointer
    }

    /// A NUL-terminated C copy of `string` owned by the arena.
    func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(string)!
        allocations.append(UnsafeMutableRawPointer(copy))
        return copy
    }

    /// A C copy of `values` owned by the arena; nil when empty, as protobuf-c expects.
    func copy<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let pointer = allocate(T.self, count: values.count)
        values.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: values.count) }
        return pointer
    }

    /// The C array of pointers protobuf-c uses for a repeated message field.
    func pointers<T>(_ items: [UnsafeMutablePointer<T>]) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        copy(items.map { Optional($0) })
    }

    /// Records that `floats` is to be handed to `setter` (which stores pointer and count
    /// in a message struct of this arena) while `withLoans` runs.
    func lend(_ floats: [Float], to setter: @escaping (UnsafeBufferPointer<Float>) -> Void) {
        loans.append((floats, setter))
    }

    /// Runs `body` with every lent array pinned and its pointer stored.
    func withLoans<R>(_ body: () -> R) -> R {
        lending(from: 0, body)
    }

    private func lending<R>(from index: Int, _ body: () -> R) -> R {
        guard index < loans.count else { return body() }
        return loans[index].floats.withUnsafeBufferPointer { buffer in
            loans[index].lend(buffer)
            return lending(from: index + 1, body)
        }
    }

    private func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = malloc(MemoryLayout<T>.stride * count)!
        allocations.append(raw)
        return raw.bindMemory(to: T.self, capacity: count)
    }
}
