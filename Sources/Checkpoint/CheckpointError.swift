/// Why a checkpoint could not be read, written or restored.
///
/// `kind` lets callers and tests tell failures apart; `description` is the message for people:
/// the file it is about, then what is wrong with it.
public struct CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// A system call failed; `errno` is kept so that e.g. ENOSPC and ENOENT stay distinguishable.
        case io(errno: Int32)
        /// The file is shorter than the 8-byte header length.
        case truncated
        /// The header length exceeds `SafeTensorsFile.maxHeaderLength`.
        case headerTooLarge
        /// The header length points past the end of the file.
        case headerBeyondFile
        /// The header is not UTF-8 JSON holding an object.
        case invalidHeader
        /// A header field has the wrong type or an impossible value (a negative dimension, ...).
        case invalidField
        /// A tensor entry lacks `dtype`, `shape` or `data_offsets`, or a metadata key is absent.
        case missingField
        /// One JSON object names the same key twice.
        case duplicateKey
        /// The dtype string is not one safetensors defines (that we know of).
        case unknownDType
        /// The dtype is valid safetensors but cannot be loaded as Float32 (integers, bool, FP8).
        case unsupportedDType
        /// `end - begin` differs from the byte size the dtype and shape call for.
        case sizeMismatch
        /// Tensor byte ranges leave a gap, overlap, or run backwards.
        case invalidOffsets
        /// The tensors do not cover the data buffer exactly to the end of the file.
        case incompleteBuffer
        /// A tensor or parameter name that cannot be written (reserved names).
        case invalidName
        /// A checkpoint's tensors do not match a model's parameters by name and shape.
        case parameterMismatch
        /// A parameter holds NaN or infinity.
        case nonFinite
        /// A metadata value could not be encoded or decoded as JSON.
        case invalidMetadata
    }

    public let kind: Kind
    /// The file path the error is about, or "<memory>" for bytes not read from a file.
    public let source: String
    /// What is wrong, without the source.
    public let message: String

    public init(_ kind: Kind, source: String, _ message: String) {
        self.kind = kind
        self.source = source
        self.message = message
    }

    public var description: String { "\(source): \(message)" }
}
