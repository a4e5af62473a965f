import Foundation

/// Python checks of what a real fine-tuning run leaves in its folder for a person to look at:
/// TensorBoard's before/after grids (read with TensorBoard's own EventAccumulator) and
/// `curves.png`. Both decode the PNGs with zlib alone: PNG.swift writes 8-bit RGB rows with
/// filter 0 in stored deflate blocks, which the decoder checks.
enum RunOutputChecks {
    /// The decoder both checks use.
    static let decoder = #"""
        import struct, sys, zlib
        try:
            import numpy as np
        except ImportError as e:
            sys.exit(f"Python package {e.name!r} is missing: scripts/setup.sh installs numpy")

        def decode(png):
            assert png[:8] == b"\x89PNG\r\n\x1a\n", png[:8]
            width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
            assert (depth, colour) == (8, 2), (depth, colour)
            idat, at = b"", 8
            while at < len(png):
                (length,), kind = struct.unpack(">I", png[at:at + 4]), png[at + 4:at + 8]
                if kind == b"IDAT":
                    idat += png[at + 8:at + 8 + length]
                at += 12 + length
            rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + 3 * width)
            assert (rows[:, 0] == 0).all(), "a row filter other than 0"
            return rows[:, 1:].reshape(height, width, 3)

        """#

    /// argv: run folder, `sample` folder of the base model, of the final checkpoint, K, the
    /// number of prompts. Every `before_after` grid is at an update divisible by K or the last,
    /// of 2 rows × prompts cells; its top row is the base model's `sample` images, the last
    /// grid's bottom row the final checkpoint's. Prints "<grids> grids WxH at steps …".
    static let grids = decoder + #"""
        import json, os
        from tensorboard.backend.event_processing import event_accumulator
        run_dir, before_dir, after_dir, every, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        lines = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))]
        last = lines[-1]["update"]
        acc = event_accumulator.EventAccumulator(run_dir, size_guidance={event_accumulator.IMAGES: 0})
        acc.Reload()
        assert "before_after" in acc.Tags()["images"], acc.Tags()["images"]
        grids = acc.Images("before_after")
        steps = [g.step for g in grids]
        assert steps == [l["update"] for l in lines if l["update"] % every == 0 or l["update"] == last], (steps, last)
        timed = [l["update"] for l in lines if "preview_seconds" in l]
        assert timed == steps, f"preview_seconds on updates {timed}, grids at {steps}"
        cell, gutter = 32, 2
        size = (n * (cell + gutter) + gutter, 2 * (cell + gutter) + gutter)
        def cells(pixels, row):
            y = gutter + row * (cell + gutter)
            return [pixels[y:y + cell, gutter + k * (cell + gutter):gutter + k * (cell + gutter) + cell] for k in range(n)]
        load = lambda folder: [decode(open(os.path.join(folder, f"{i:05d}.png"), "rb").read()) for i in range(n)]
        before, after = load(before_dir), load(after_dir)
        for g in grids:
            assert (g.width, g.height) == size, ((g.width, g.height), size)
            pixels = decode(g.encoded_image_string)
            assert pixels.shape == (size[1], size[0], 3), pixels.shape
            for k, (got, want) in enumerate(zip(cells(pixels, 0), before)):
                assert (got == want).all(), f"step {g.step}: before cell {k} differs from the base model's sample in {int((got != want).any(axis=2).sum())} pixels"
        final = cells(decode(grids[-1].encoded_image_string), 1)
        for k, (got, want) in enumerate(zip(final, after)):
            assert (got == want).all(), f"last grid: after cell {k} differs from the checkpoint's sample in {int((got != want).any(axis=2).sum())} pixels"
        assert any((a != b).any() for a, b in zip(final, before)), "after = before: the grid does not show the trained policy"
        seconds = [l["preview_seconds"] for l in lines if "preview_seconds" in l]
        print(f"{len(grids)} grids {size[0]}x{size[1]} at steps {steps}, {max(seconds):.3f} s per grid at most")
        """#

    /// argv: curves.png. The image is 640 × 400, four 320 × 200 panels; in each panel's plot
    /// area (inside its axes) there are curve pixels: coloured, neither white, grey nor black.
    /// Prints the coloured pixels per panel.
    static let curves = decoder + #"""
        pixels = decode(open(sys.argv[1], "rb").read()).astype(int)
        assert pixels.shape == (400, 640, 3), pixels.shape
        counts = []
        for panel in range(4):
            x0, y0 = (panel % 2) * 320, (panel // 2) * 200
            area = pixels[y0 + 27:y0 + 176, x0 + 65:x0 + 306]   # inside the axes (x 64 and y 176 of the panel)
            coloured = (area.max(axis=2) - area.min(axis=2)) > 60
            counts.append(int(coloured.sum()))
        assert all(c >= 20 for c in counts), f"coloured pixels per panel: {counts}"
        print("coloured pixels per panel", counts)
        """#
}
