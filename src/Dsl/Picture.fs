namespace Dsl

open System
open System.IO
open SkiaSharp
open Dsl.Engine
open Dsl.Engine.IO
open Dsl.Data

/// Writing pictures: PNG or SVG by the file's extension, atomically (written beside the target and renamed
/// over it, so a reader never sees half a file), drawn on a SkiaSharp canvas.
module Picture =
    /// The picture formats `write` knows, by extension.
    let extensions = [ ".png"; ".svg" ]

    /// Fails with a clear message unless `path` ends in .png or .svg and its folder exists.
    let check (who: string) (path: string) =
        if String.IsNullOrWhiteSpace path then invalidArg "path" (sprintf "%s: the path is empty; give a file name ending in .png or .svg" who)
        let ext = (string (Path.GetExtension path)).ToLowerInvariant()
        if not (List.contains ext extensions) then
            invalidArg "path" (sprintf "%s: '%s' has extension '%s'; pictures are written as .png or .svg (chosen by the extension)" who path ext)
        let dir = Path.GetDirectoryName(Path.GetFullPath path)
        if not (Directory.Exists dir) then invalidArg "path" (sprintf "%s: the folder '%s' of '%s' does not exist; create it first (Directory.CreateDirectory)" who dir path)

    /// Draws a `width`×`height` picture with `draw` on a white canvas and writes it to `path` (PNG or SVG by
    /// the extension), atomically.
    let write (who: string) (path: string) (width: int) (height: int) (draw: SKCanvas -> unit) =
        check who path
        if width <= 0 || height <= 0 then invalidArg "size" (sprintf "%s: the picture is %d×%d pixels; width and height must be positive" who width height)
        let bytes =
            if (string (Path.GetExtension path)).ToLowerInvariant() = ".svg" then
                use ms = new MemoryStream()
                do
                    use canvas = SKSvgCanvas.Create(SKRect(0f, 0f, float32 width, float32 height), ms)
                    canvas.Clear SKColors.White
                    draw canvas
                ms.ToArray()
            else
                use surface = SKSurface.Create(SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
                surface.Canvas.Clear SKColors.White
                draw surface.Canvas
                surface.Canvas.Flush()
                use image = surface.Snapshot()
                use data = image.Encode(SKEncodedImageFormat.Png, 100)
                data.ToArray()
        AtomicFile.Write(path, fun (s: Stream) -> s.Write(bytes, 0, bytes.Length))

    /// Images for display: uint8 as they are; floating images already in [0, 1] as they are, others (such as
    /// standardised inputs) stretched to [0, 1] each by its own minimum and maximum. The result belongs to the
    /// current scope.
    let displayable (images: Tensor) : Tensor =
        if images.DType = DType.UInt8 then
            images
        else
            let x = images.To(DType.Float32)
            let n = x.Size 0
            let flat = x.Reshape([| n; -1L |])
            let lo = flat.Amin([| 1L |], true)
            let hi = flat.Amax([| 1L |], true)
            if lo.Min().ToDouble() >= 0.0 && hi.Max().ToDouble() <= 1.0 then x else ((flat - lo) / (hi - lo).Clamp(min = 1e-12)).Reshape(x.Shape)

    /// A batch of images [N, H, W], [N, 1, H, W] or [N, 3, H, W] from a list of images of one size
    /// ([H, W], [1, H, W] or [3, H, W]); fails naming the first image whose shape differs.
    let stack (who: string) (images: Tensor list) : Tensor =
        match images with
        | [] -> invalidArg "images" (sprintf "%s: there are no images to draw" who)
        | first :: _ ->
            let shape (t: Tensor) = "[" + String.Join(", ", t.Shape) + "]"
            images
            |> List.iteri (fun i t ->
                t.ThrowIfDisposed who
                if t.Dim < 2 || t.Dim > 3 || (t.Dim = 3 && t.Size 0 <> 1L && t.Size 0 <> 3L) then
                    invalidArg "images" (sprintf "%s: image %d is %s; images are [H, W], [1, H, W] or [3, H, W]" who i (shape t))
                if t.Shape <> first.Shape then
                    invalidArg
                        "images"
                        (sprintf "%s: image %d is %s but image 0 is %s; images of one grid must have one size (resize them first, e.g. with Resize)" who i (shape t) (shape first)))
            Torch.Stack(images |> List.map (fun t -> if t.DType = first.DType then t else t.To(DType.Float32)) |> Array.ofList, 0L)

    /// Writes a grid of images (see `ImageGrid.Render`) to `path`, PNG or SVG (the PNG tiles embedded), atomically.
    let grid (who: string) (path: string) (images: Tensor) (columns: int) (scale: int) (fontSize: float32) (captions: string list) (frames: string list option) =
        check who path
        use _ = DisposeScope.Enter()
        let width = if images.Dim >= 3 then int (images.Size(images.Dim - 1)) else 1
        let scale = if scale > 0 then scale else max 1 ((120 + width - 1) / max 1 width)
        use bitmap =
            ImageGrid.Render(
                displayable images,
                columns,
                Array.ofList captions,
                padding = 6,
                scale = scale,
                fontSize = fontSize,
                frames = (frames |> Option.map Array.ofList |> Option.toObj)
            )
        use image = SKImage.FromBitmap bitmap
        write who path bitmap.Width bitmap.Height (fun canvas -> canvas.DrawImage(image, 0f, 0f))
