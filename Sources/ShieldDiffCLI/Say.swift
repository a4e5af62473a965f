import Foundation

/// One line to standard output, written at once so that progress shows up through a pipe.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
