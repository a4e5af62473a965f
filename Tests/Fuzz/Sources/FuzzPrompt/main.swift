import FuzzSupport
import World

/// Any prompt text or prompt file: a prompt that parses is written back exactly as given, and
/// parses again to the same prompt; a prompt file's lines read back as the same free-text prompts.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPrompt(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: inputBytes(data, size), as: UTF8.self)
    if let prompt = try? Prompt(parsing: text) {
        invariant(prompt.text == text, "parsed '\(text)' but writes '\(prompt.text)'")
        invariant((try? Prompt(parsing: prompt.text)) == prompt, "'\(text)' does not parse to itself")
    }
    if let prompts = try? PromptFile.parse(inputBytes(data, size)) {
        let again = try? PromptFile.parse(PromptFile.format(prompts.map(\.text)))
        invariant(again == prompts, "file prompts do not read back from their own file")
    }
    return 0
}
