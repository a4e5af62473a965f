import CShieldProto
import Foundation

/// One TensorBoard `Event` (proto/tensorboard.proto): the file-version marker, a set of
/// scalars, or a PNG image, at a step and wall time.
public struct Event: Sendable {
    /// What the event carries.
    public enum Content: Sendable {
        /// The first event of a file, `"brain.Event:2"`.
        case fileVersion(String)
        /// Scalars by tag (TensorBoard stores them as float32).
        case scalars([(tag: String, value: Float)])
        /// A PNG image of `width` × `height` RGB pixels.
        case image(tag: String, width: Int, height: Int, png: [UInt8])
    }

    /// Seconds since the Unix epoch.
    public var wallTime: Double
    /// The step (the learner's update number).
    public var step: Int64
    /// What it carries.
    public var content: Content

    /// An event from its parts.
    public init(wallTime: Double, step: Int64, content: Content) {
        (self.wallTime, self.step, self.content) = (wallTime, step, content)
    }

    /// The protobuf encoding (packed by protobuf-c).
    public func encoded() -> [UInt8] {
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer { strings.forEach { free($0) } }
        func cString(_ s: String) -> UnsafeMutablePointer<CChar> {
            let copy = strdup(s)!
            strings.append(copy)
            return copy
        }

        var event = Tensorboard__Event()
        tensorboard__event__init(&event)
        event.wall_time = wallTime
        event.step = step
        switch content {
        case let .fileVersion(version):
            event.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION
            event.file_version = cString(version)
            return pack(&event)
        case let .scalars(scalars):
            var values = scalars.map { scalar -> Tensorboard__Summary__Value in
                var value = Tensorboard__Summary__Value()
                tensorboard__summary__value__init(&value)
                value.tag = cString(scalar.tag)
                value.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE
                value.simple_value = scalar.value
                return value
            }
            return values.withUnsafeMutableBufferPointer { buffer in
                var pointers = (0..<buffer.count).map { Optional(buffer.baseAddress! + $0) }
                return pointers.withUnsafeMutableBufferPointer { list in
                    summaryEvent(&event, values: list)
                }
            }
        case let .image(tag, width, height, png):
            var image = Tensorboard__Summary__Image()
            tensorboard__summary__image__init(&image)
            image.width = Int32(width)
            image.height = Int32(height)
            image.colorspace = 3
            return png.withUnsafeBufferPointer { bytes in
                image.encoded_image_string = ProtobufCBinaryData(len: bytes.count, data: UnsafeMutablePointer(mutating: bytes.baseAddress))
                return withUnsafeMutablePointer(to: &image) { imagePointer in
                    var value = Tensorboard__Summary__Value()
                    tensorboard__summary__value__init(&value)
                    value.tag = cString(tag)
                    value.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_IMAGE
                    value.image = imagePointer
                    return withUnsafeMutablePointer(to: &value) { valuePointer in
                        var list: [UnsafeMutablePointer<Tensorboard__Summary__Value>?] = [valuePointer]
                        return list.withUnsafeMutableBufferPointer { summaryEvent(&event, values: $0) }
                    }
                }
            }
        }
    }

    private func summaryEvent(_ event: inout Tensorboard__Event,
                              values: UnsafeMutableBufferPointer<UnsafeMutablePointer<Tensorboard__Summary__Value>?>) -> [UInt8] {
        var summary = Tensorboard__Summary()
        tensorboard__summary__init(&summary)
        summary.n_value = values.count
        summary.value = values.baseAddress
        return withUnsafeMutablePointer(to: &summary) { summaryPointer in
            event.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY
            event.summary = summaryPointer
            return pack(&event)
        }
    }

    private func pack(_ event: inout Tensorboard__Event) -> [UInt8] {
        withUnsafePointer(to: &event) { pointer in
            let size = tensorboard__event__get_packed_size(pointer)
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = tensorboard__event__pack(pointer, buffer.baseAddress)
            }
        }
    }
}
