// Transfer learning as seed 003 does it: a pretrained base, frozen, under a new head trained on a small image folder,
// then the whole model fine-tuned at a small learning rate; then each predicted image's classes, ranked.
//   dotnet fsi build.fsx run examples/transfer_learning.fsx --data DIR [--base vgg16|xception|mobilenet] [--weights imagenet|PATH]
//   (--weights imagenet fetches torchvision's VGG16 file into the cache; PATH is a .pth, safetensors or Keras .h5 file)
//       DIR holds train/<class>/… and predict/<class>/… (the seed's 150×150 RGB images of avocados, cats, cows and crabs)
//   dotnet fsi build.fsx run examples/transfer_learning.fsx --demo [--seeds N] [--per-class N] [--pretrain-per-class N]
//       [--pretrain-epochs N] [--transfer-epochs N] [--fine-epochs N]   (the point of it, with what is here)
//   dotnet fsi build.fsx run examples/transfer_learning.fsx --demo --quick        (CI: one seed, tiny sizes)
// The demo pretrains a small zoo ResNet on eight Fashion-MNIST classes, writes the two held-out classes as JPEG class
// folders (a few hundred training images each), and compares transfer + fine-tuning with the same model trained from
// scratch for the same number of epochs, on the held-out classes' test images.
#load "../Dsl.fsx"

open System
open System.IO
open Dsl
open Dsl.Engine
open Dsl.Data

let args = fsi.CommandLineArgs |> Array.tail
let flag (name: string) = Array.contains name args

let option (name: string) =
    match Array.tryFindIndex ((=) name) args with
    | Some i when i + 1 < args.Length -> Some args.[i + 1]
    | _ -> None

let quick = flag "--quick"
let quiet (o: FitOptions) = { o with Verbosity = (if quick then Silent else Auto) }

/// The seed's two phases on a model whose layers below `head` form the base: the base frozen while the head trains at
/// Adam `headLr`, then everything fine-tuned with the base at `baseLr` (the seed's is 1e-5) and the head at
/// `headLr` / 10 (FitOptions.ParamGroups). Returns the fine-tuned model.
let transfer (head: string) (headLr: float) (baseLr: float) (transferEpochs: int) (fineEpochs: int) (seed: int64) (model: Model) (data: DataSource) : Model =
    let baseParams = Tree.paths model.Params |> List.filter (fun p -> not (p.StartsWith(head + ".")))
    let frozenBase = model |> Model.freeze baseParams
    let o = quiet { FitOptions.Default with Optimizer = Optimizers.adam headLr; Epochs = transferEpochs; BatchSize = 32; Seed = seed }
    let transferred = Training.fitData o frozenBase data
    let thawed = transferred.Model |> Model.unfreeze baseParams
    let fine = Training.fitData { o with Optimizer = Optimizers.adam baseLr; ParamGroups = [ (head + ".**", headLr / 10.0) ]; Epochs = fineEpochs } thawed data
    fine.Model

/// Prints each image's classes ranked, in the seed's format.
let printRanked (names: string list) (files: string list) (model: Model) (x: Tensor) =
    for file, ranked in List.zip files (Training.predictTopK names.Length names model x) do
        printfn "%s\nResults provided by selected model:\n%s\n" file ((Training.formatTopK ranked).Split('\n') |> Array.map (fun l -> "        " + l) |> String.concat "\n")

// ---------------------------------------------------------------- --data DIR: the seed's folders

let runFolders (dir: string) =
    let size = 150
    let imageOptions = ImageOptions.Resize(size, size)
    let train = ImageFolder.Open(Path.Combine(dir, "train"), imageOptions)
    let predict = ImageFolder.Open(Path.Combine(dir, "predict"), imageOptions, train.ClassNames)
    let names = List.ofSeq train.ClassNames
    let baseName = option "--base" |> Option.defaultValue "vgg16"
    // The seed's epochs per base: (transfer, fine-tuning).
    // --weights imagenet: torchvision's published file (fetched once into the cache; vgg16 only, Keras's bases need
    // their .h5 file); --weights PATH: a .pth, safetensors or Keras .h5 file, loaded into the base when it is built.
    let weights =
        match option "--weights" with
        | Some "imagenet" -> ZooWeights.ImageNet
        | Some path -> ZooWeights.File path
        | None ->
            eprintfn "No --weights: the base starts from fresh weights, so there is nothing to transfer; the run shows the steps only."
            ZooWeights.None
    let features, (transferEpochs, fineEpochs) =
        let o = { Zoo.Default with IncludeTop = false; Weights = weights }
        match baseName with
        | "vgg16" -> Zoo.vgg16 o, (1, 1)
        | "xception" -> Zoo.xception o, (5, 3)
        | "mobilenet" -> Zoo.mobilenet o, (5, 4)
        | other ->
            eprintfn "--base %s: use vgg16, xception or mobilenet" other
            exit 2
    let net = serial [ named "base" features; named "pool" (adaptiveAvgPool (1, 1)); named "flatten" flatten; named "head" (dense names.Length) ]
    let model =
        try
            Model.build [ 3L; int64 size; int64 size ] net
        with e when weights <> ZooWeights.None ->
            eprintfn "--weights: %s" e.Message
            exit 3
    printfn "%s base, %d training images, %d to predict, classes %s" baseName train.Count predict.Count (String.concat ", " names)
    use scope = DisposeScope.Enter()
    let scaled (t: Tensor) = t.To(DType.Float32).Div_(255.0)
    let t, p = train.Load(), predict.Load()
    let tuned = transfer "head" 1e-3 1e-5 transferEpochs fineEpochs 0L model (DataSource.Tensors(scaled t.Images, Value.T t.Labels))
    let acc = (Training.evaluate (quiet FitOptions.Default) tuned (scaled p.Images) (Value.T p.Labels)).["accuracy"]
    printfn "test accuracy after transfer and fine-tuning: %.4f\n" acc
    printRanked names [ for (f, _) in predict.Samples -> Path.GetRelativePath(dir, f) ] tuned (scaled p.Images)

// ---------------------------------------------------------------- --demo: transfer against scratch, with what is here

/// Rows of a Fashion-MNIST split whose labels are in `classes` (at most `perClass` of each), labels renumbered in the
/// order of `classes`; images as uint8 [N, 1, 28, 28].
let pick (images: Tensor) (labels: Tensor) (classes: int list) (perClass: int) =
    let ls = labels.To(DType.Int64).ToArray<int64>()
    let rows = [|
        for c in classes do
            yield! ls |> Array.indexed |> Array.filter (fun (_, l) -> l = int64 c) |> Array.truncate perClass |> Array.map fst
    |]
    let index = Torch.From(Array.map int64 rows, [| int64 rows.Length |])
    let relabel = Array.map (fun r -> int64 (List.findIndex ((=) (int ls.[r])) classes)) rows
    images.IndexSelect(0L, index).Unsqueeze(1L), Torch.From(relabel, [| int64 rows.Length |])

/// Writes images as JPEG files in class folders, root/<class>/<n>.jpg (each written atomically).
let writeFolder (root: string) (names: string list) (images: Tensor) (labels: Tensor) =
    if Directory.Exists root then Directory.Delete(root, true)
    let ls = labels.ToArray<int64>()
    for i in 0 .. ls.Length - 1 do
        let dir = Path.Combine(root, names.[int ls.[i]])
        Directory.CreateDirectory dir |> ignore
        use _ = DisposeScope.Enter()
        Image.Write(Path.Combine(dir, sprintf "%04d.jpg" i), images.[int64 i], quality = 95)

let runDemo () =
    let seeds = if quick then 1 else option "--seeds" |> Option.map int |> Option.defaultValue 3
    let heldOut = [ 2; 4 ] // Pullover and Coat: two classes the base never sees, and easily confused
    let pretrainClasses = [ 0..9 ] |> List.filter (fun c -> not (List.contains c heldOut))
    let allNames = List.ofSeq FashionMnist.ClassNames
    let names = heldOut |> List.map (fun c -> allNames.[c].Replace("/", "-"))
    let number name (fallback: int) = option name |> Option.map int |> Option.defaultValue fallback
    let perClassPretrain, pretrainEpochs, perClassNew, perClassTest, transferEpochs, fineEpochs =
        if quick then
            100, 1, 40, 100, 1, 1
        else
            number "--pretrain-per-class" 4000, number "--pretrain-epochs" 3, number "--per-class" 200, 1000, number "--transfer-epochs" 2, number "--fine-epochs" 4
    let struct (trainImages, trainLabels) = FashionMnist.Load(true)
    let struct (testImages, testLabels) = FashionMnist.Load(false)
    let scaled (t: Tensor) = t.To(DType.Float32).Div_(255.0)
    // The held-out classes as JPEG class folders, read back with ImageFolder (as the seed's folders would be).
    let root = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "output", "transfer_learning", "fashion-heldout"))
    let xNew, yNew = pick trainImages trainLabels heldOut perClassNew
    let xHeld, yHeld = pick testImages testLabels heldOut perClassTest
    writeFolder (Path.Combine(root, "train")) names xNew yNew
    writeFolder (Path.Combine(root, "predict")) names xHeld yHeld
    let folderOptions = ImageOptions.Resize(28, 28, grayscale = true)
    let trainFolder = ImageFolder.Open(Path.Combine(root, "train"), folderOptions)
    let predictFolder = ImageFolder.Open(Path.Combine(root, "predict"), folderOptions, trainFolder.ClassNames)
    let newData, testData = trainFolder.Load(), predictFolder.Load()
    let names = List.ofSeq trainFolder.ClassNames // the folders' order (sorted), which their labels follow
    let xTrain, yTrain, xTest, yTest = scaled newData.Images, newData.Labels, scaled testData.Images, testData.Labels
    printfn "held out: %s; %d JPEG training images and %d test images in %s" (String.concat " and " names) trainFolder.Count predictFolder.Count root
    let xPre, yPre = pick trainImages trainLabels pretrainClasses perClassPretrain
    let xPre = scaled xPre
    let resnet classes = ResNet.build ResNetBlock.Basic [ 1; 1 ] [ 16; 32 ] 16 { Zoo.Default with Classes = classes }
    let evaluate (m: Model) = (Training.evaluate (quiet FitOptions.Default) m xTest (Value.T yTest)).["accuracy"]
    let results = [
        for s in 1..seeds ->
            let seed = int64 s
            let watch = Diagnostics.Stopwatch.StartNew()
            let pretrained =
                let o = quiet { FitOptions.Default with Epochs = pretrainEpochs; BatchSize = 64; Seed = seed }
                (Training.fit o (Model.buildSeeded seed [ 1L; 28L; 28L ] (resnet pretrainClasses.Length)) xPre (Value.T yPre)).Model
            let withHead = pretrained |> Model.replaceSeeded seed "fc" (dense 2)
            if s = 1 then Summary.print (withHead |> Model.freeze [ "conv1"; "bn1"; "layer1"; "layer2" ])
            // A linear head on 32 pooled features moves little in 60 steps of Adam 1e-3: it trains at 1e-2. This base is
            // small and saw few images, so fine-tuning takes it at 1e-3 (the seed's 1e-5 suits ImageNet bases: here it
            // leaves the base as it is) and the head at 1e-3 (ParamGroups).
            let tuned = transfer "fc" 1e-2 1e-3 transferEpochs fineEpochs seed withHead (DataSource.Tensors(xTrain, Value.T yTrain))
            let scratch =
                let o = quiet { FitOptions.Default with Epochs = transferEpochs + fineEpochs; BatchSize = 32; Seed = seed }
                (Training.fit o (Model.buildSeeded seed [ 1L; 28L; 28L ] (resnet 2)) xTrain (Value.T yTrain)).Model
            let t, sc = evaluate tuned, evaluate scratch
            printfn "seed %d: transfer + fine-tuning %.4f, from scratch %.4f (%.1f s)" s t sc watch.Elapsed.TotalSeconds
            if s = 1 then
                printfn "\nThe first four test images, ranked by the transferred model:"
                printRanked names [ for (f, _) in Seq.truncate 4 predictFolder.Samples -> Path.GetFileName f ] tuned (xTest.Narrow(0L, 0L, 4L))
            t, sc
    ]
    let stats (xs: float list) =
        let m = List.average xs
        let sd = if xs.Length < 2 then 0.0 else sqrt ((xs |> List.sumBy (fun x -> (x - m) ** 2.0)) / float (xs.Length - 1))
        m, sd
    let tm, tsd = stats (List.map fst results)
    let sm, ssd = stats (List.map snd results)
    let dm, dsd = stats (results |> List.map (fun (t, s) -> t - s))
    printfn
        "\nHeld-out %s, %d training images per class, %d + %d epochs, %d seed(s): test accuracy, mean ± sd"
        (String.concat " vs " names)
        perClassNew
        transferEpochs
        fineEpochs
        seeds
    printfn "  transfer + fine-tuning   %.4f ± %.4f" tm tsd
    printfn "  from scratch             %.4f ± %.4f" sm ssd
    printfn "  margin (transfer wins by) %+.4f ± %.4f (min %+.4f)" dm dsd (results |> List.map (fun (t, s) -> t - s) |> List.min)

if flag "--demo" then
    runDemo ()
else
    match option "--data" with
    | Some dir -> runFolders dir
    | None ->
        eprintfn "Give --data DIR (train/<class>/… and predict/<class>/…), or --demo to see transfer learning on Fashion-MNIST."
        exit 3
