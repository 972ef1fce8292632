/// Every example script runs (in its quick mode where it has one) and prints what it promises.
module Dsl.Examples.Tests.ExampleScripts

open System
open System.Diagnostics
open System.IO
open Expecto

/// The repository's root: the folder above the test binaries that holds Dsl.sln.
let root =
    let rec up (d: DirectoryInfo) =
        if File.Exists(Path.Combine(d.FullName, "Dsl.sln")) then
            d.FullName
        else
            match d.Parent with
            | null -> failwithf "no Dsl.sln in %s or any folder above it" AppContext.BaseDirectory
            | parent -> up parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// Runs a program in a folder with CI=true: its exit code and its output (stdout then stderr); fails after the timeout.
let private runIn (dir: string) (exe: string) (args: string) (timeoutMs: int) =
    let psi = ProcessStartInfo(exe, args, WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true)
    psi.Environment.["CI"] <- "true"
    use p =
        match Process.Start psi with
        | null -> failtest (sprintf "%s %s: no process was started" exe args)
        | p -> p
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit timeoutMs) then
        p.Kill true
        failtest (sprintf "%s %s did not finish in %d s" exe args (timeoutMs / 1000))
    p.ExitCode, out.Result + err.Result

let private run (exe: string) (args: string) (timeoutMs: int) = runIn root exe args timeoutMs

/// The scripts reference the Release build (Dsl.fsx); it is built once, before the first script runs
/// (when that build fails, every script test fails with its output).
let private buildRelease =
    lazy
        for project in [ "src/Dsl/Dsl.fsproj"; "src/Theory/Theory.fsproj" ] do
            let code, output = run "dotnet" (sprintf "build %s -c Release -nologo -v q" project) 600_000
            Expect.equal code 0 output

let private runScript (name: string) (args: string) =
    buildRelease.Force()
    run "dotnet" (sprintf "fsi --quiet examples/%s %s" name args) 900_000

let private succeeds (code: int, output: string) (expect: string list) =
    Expect.equal code 0 output
    for e in expect do
        Expect.stringContains output e output
    output

let private script (name: string) (args: string) (expect: string list) = succeeds (runScript name args) expect

/// This module's tests, the Expecto list "ExampleScripts" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "ExampleScripts" [
        testCase "quickstart builds, summarises and runs an MLP and a CNN"
        <| fun () -> script "quickstart.fsx" "" [ "Total params: 101,770"; "MLP: 101770 parameters, logits shape [4; 10]"; "CNN:" ] |> ignore

        testCase "a script elsewhere that loads Dsl.fsx by its full path draws a chart, run from its own folder"
        <| fun () ->
            // F# interactive found SkiaSharp's native library only from the repository's root (Dsl.Data's NativeAssets).
            buildRelease.Force()
            let dir = Path.Combine(Path.GetTempPath(), sprintf "dsl-elsewhere-%d" (Random.Shared.Next()))
            Directory.CreateDirectory dir |> ignore
            let script = Path.Combine(dir, "chart.fsx")
            File.WriteAllText(
                script,
                String.concat "\n" [
                    sprintf "#load @\"%s\"" (Path.Combine(root, "Dsl.fsx"))
                    "open Dsl"
                    "Plot.lines LinesPlot.Default \"chart.png\" [ { Label = \"a\"; Points = [ 1.0, 2.0; 2.0, 1.0 ]; Style = Line; Color = None } ]"
                    "printfn \"chart written\""
                ]
            )
            let code, output = runIn dir "dotnet" "fsi --quiet chart.fsx" 300_000
            succeeds (code, output) [ "chart written" ] |> ignore
            Expect.isTrue (File.Exists(Path.Combine(dir, "chart.png"))) "chart.png was written"
            Directory.Delete(dir, true)

        testCase "fashion_mnist --quick trains the three models, prints the table and writes a report per model"
        <| fun () ->
            let out = script "fashion_mnist.fsx" "--quick" [ "seed 001 MLP"; "seed 001 CNN"; "better CNN"; "test acc" ]
            Expect.isMatch out @"Epoch 2/2 - [0-9.]+s - loss: [0-9.]+ - accuracy: [0-9.]+ - val_loss: [0-9.]+ - val_accuracy: [0-9.]+" "out"
            Expect.stringContains out "compare.html" "out"
            for model in [ "seed_001_MLP"; "seed_001_CNN"; "better_CNN" ] do
                for file in [ "report.html"; "history.png"; "confusion.png"; "predictions.png" ] do
                    let path = Path.Combine(root, "examples", "output", "fashion_mnist", model, file)
                    Expect.isTrue (File.Exists path) (sprintf "%s was written" path)

        testCase "distributed --quick trains on 2 ranks through build.fsx launch and rank 0 reports the test accuracy"
        <| fun () ->
            buildRelease.Force()
            let code, output = run "dotnet" "fsi build.fsx launch --nproc 2 examples/distributed.fsx --quick" 900_000
            succeeds (code, output) [ "launch: 2 processes"; "[rank 0] distributed: 2 rank(s)"; "test accuracy"; "launch: all 2 processes finished" ] |> ignore
            Expect.isFalse (output.Contains "[rank 1] distributed:") "only rank 0 reports"

        testCase "magic --quick prints a baseline, the tuned MLP and three initialisations"
        <| fun () ->
            // The script finds the data through LocalData: --data, else $DSL_DATA/magic/magic04.data.
            let code, output = runScript "magic.fsx" "--quick"
            if code = 3 && output.Contains "magic04.data was not found" then skiptest output
            succeeds (code, output) [ "logistic regression"; "best on validation"; "torch_default"; "glorot_uniform"; "he_normal" ] |> ignore

        testCase "two_heads --quick trains a two-head model and indexes its results by name"
        <| fun () ->
            script "two_heads.fsx" "--quick" [
                "fan_out (FanOut)"
                "item_accuracy"
                "val_both_right"
                "Test: item accuracy"
                "Default metrics for two heads: loss, item_accuracy, kind_accuracy"
            ]
            |> ignore

        testCase "seed 001's seven models have the seed's exact parameter counts"
        <| fun () ->
            script "seeds/001-fashion-mnist.fsx" "--summaries" [
                "fmnist-mlp: the seed's counts (71146L, 71146L, 0L): same"
                "fmnist-personal: the seed's counts (109726L, 107524L, 2202L): same"
                "cifar10-mlp: the seed's counts (144362L, 144362L, 0L): same"
                "cifar10-cnn: the seed's counts (122986L, 122986L, 0L): same"
                "cifar10-personal: the seed's counts (150218L, 149010L, 1208L): same"
                "cifar100: the seed's counts (684564L, 682332L, 2232L): same"
            ]
            |> ignore

        testCase "seed 001 Fashion-MNIST --quick prints the seed's numbers beside ours and the most confused pair"
        <| fun () -> script "seeds/001-fashion-mnist.fsx" "--quick" [ "Seed 001, Fashion-MNIST: test accuracy"; "0.8732"; "0.9166"; "0.9360"; "most confused:" ] |> ignore

        testCase "seed 001 CIFAR --quick trains the four models on generated files in the real format"
        <| fun () -> script "seeds/001-cifar.fsx" "--quick" [ "CIFAR-10 MLP (144,362 params)"; "CIFAR-100 seed's CNN (684,564 params)  0.6014" ] |> ignore

        testCase "seeds/002-utkface --quick runs the pipeline, the network by hand and the DSL's fit beside it"
        <| fun () ->
            script "seeds/002-utkface.fsx" "--quick" [
                "PCA 3072 → 128 fitted on 300 of 600 faces"
                "Split 486 / 54 / 60 (81/9/10)"
                "zero init, hidden 64    19.1553"
                "hidden 64, 16  12.9904"
                "hidden 64, momentum 0.9, decay 0.99/epoch  14.84"
                "DSL fit: random init, hidden 64"
                "race by hand, hidden 64, softmax + NLL  72.2%"
                "Loss curves kept for plotting"
            ]
            |> ignore

        testCase "seed 000 Task 1 --quick prints the init study (first NaN near 28.4, √512) from the Theory module"
        <| fun () ->
            let out =
                script "seeds/000-task1-init-study.fsx" "--quick" [
                    "Seed 000 Task 1"
                    "Kaiming normal (fan_in), ReLU"
                    "overflow predicted at 28.4"
                    "≈ √512 = 22.63"
                    "Xavier + ReLU: std ratio per layer"
                ]
            Expect.isMatch out @"first NaN at layer (2[6-9]|3[0-1]),(2[6-9]|3[0-1])" "N(0,1) weights overflow near layer 28.4 in both nets"

        testCase "seed 000 Task 2 --quick trains the L-BFGS baseline, tunes and retrains the MLP, and two other inits"
        <| fun () ->
            script "seeds/000-task2-magic.fsx" "--quick" [
                "logistic regression (L-BFGS, strong Wolfe)"
                "Number of mislabeled points"
                "Number of mislabeled test points"
                "chosen on validation"
                "curve final loss (train + validation)"
                "≥ 85% (87% full grade)"
                "Task 2.7: init he_normal"
            ]
            |> ignore

        testCase "seed 000 Task 3 --quick trains the GroupNorm CNN from generated JPEG folders, with noise and augmentation"
        <| fun () ->
            script "seeds/000-task3-imagenette.fsx" "--quick" [
                "80 train and 40 test (val/) images"
                "test + 0.005·N(0,1)"
                "with augmentation (Compose(RandomCrop(64×64, padding=4)"
                "≥ 73% (78% full points)"
                "the full CNN, width 64"
            ]
            |> ignore

        testCase "seed 003's Fashion-MNIST CNN has the seed's 93,322 parameters"
        <| fun () ->
            script "seeds/003-fashion-cnn.fsx" "--counts" [ "seed 003 CNN: 93,322 parameters"; "conv2d_2 (Conv2D)              (None, 3, 3, 64)          36,928" ] |> ignore

        testCase "seed 004's final model has the seed's 624,392 parameters, layer by layer as its Fig. 5"
        <| fun () ->
            let out = script "seeds/004-clocks.fsx" "--counts" [ "seed 004 final model: 624,392 parameters"; "Total params: 624,392" ]
            // Every row of the seed's Keras summary: name, output shape (channels last) and parameter count.
            let rows = [
                "conv2d (Conv2D)", "(None, 74, 74, 64)", "1,088"
                "max_pooling2d (MaxPooling2D)", "(None, 37, 37, 64)", "0"
                "dropout (Dropout)", "(None, 37, 37, 64)", "0"
                "conv2d_1 (Conv2D)", "(None, 34, 34, 64)", "65,600"
                "max_pooling2d_1 (MaxPooling2D)", "(None, 17, 17, 64)", "0"
                "dropout_1 (Dropout)", "(None, 17, 17, 64)", "0"
                "conv2d_2 (Conv2D)", "(None, 15, 15, 128)", "73,856"
                "max_pooling2d_2 (MaxPooling2D)", "(None, 7, 7, 128)", "0"
                "dropout_2 (Dropout)", "(None, 7, 7, 128)", "0"
                "conv2d_3 (Conv2D)", "(None, 5, 5, 256)", "295,168"
                "max_pooling2d_3 (MaxPooling2D)", "(None, 2, 2, 256)", "0"
                "dropout_3 (Dropout)", "(None, 2, 2, 256)", "0"
                "flatten (Flatten)", "(None, 1024)", "0"
                "dropout_4 (Dropout)", "(None, 1024)", "0"
                "dense (Dense)", "(None, 128)", "131,200"
                "dropout_5 (Dropout)", "(None, 128)", "0"
                "dense_1 (Dense)", "(None, 64)", "8,256"
                "dropout_6 (Dropout)", "(None, 64)", "0"
                "hour (Dense)", "(None, 12)", "780"
                "dense_2 (Dense)", "(None, 256)", "33,024"
                "dropout_7 (Dropout)", "(None, 256)", "0"
                "minute (Dense)", "(None, 60)", "15,420"
            ]
            for name, shape, count in rows do
                Expect.isMatch out (sprintf @"\s%s\s+%s\s+%s\s" (Text.RegularExpressions.Regex.Escape name) (Text.RegularExpressions.Regex.Escape shape) count) name

        testCase "seed 004's clocks --quick prints the variants table, the final model, Table 6 and the worst predictions"
        <| fun () ->
            let out =
                script "seeds/004-clocks.fsx" "--quick" [
                    "Seed 004: 240 clocks rendered at 150×150 (any orientation), contrasted, at 96×96"
                    "Seed 004's variants, 1 epoch(s) each, batch 24"
                    "two class heads, SGD 0.01 (epoch 1 in"
                    "regression heads, Adadelta 1.0"
                    "one 720-class output, Adam 3e-4"
                    "circular heads, Adam 3e-4"
                    "Seed 004's final model (Fig. 5, 624,392 parameters"
                    "Table 6 (final): a random sample of 10 test clocks"
                ]
            Expect.isMatch out @"final model, 1 epoch\(s\)\s+1\.89\s+[0-9.]+ min" "the final model's error beside the seed's 1.89"
            Expect.isTrue (File.Exists(Path.Combine(root, "examples", "output", "004-clocks", "worst_final.png"))) "the grid of the worst predictions"

        testCase "seed 004's goal --quick trains the keypoint heatmaps and reads the time off them"
        <| fun () ->
            let out =
                script "seeds/004-clocks.fsx" "--goal --quick" [
                    "decoder check: the true keypoints of 100 clocks read with 0 minutes of error"
                    "goal: 512 training, 100 validation and 200 held-out clocks"
                    "epoch 1: validation mean error"
                    "decoder weights (minute, hour, 12)"
                    "held out, median bearing error twelve"
                    "minute_tip"
                    "Table 6 (goal)"
                ]
            Expect.isMatch out @"mean common-sense error \(min\), 200 held out\s+1\.89\s+[0-9.]+" "the goal's error beside the seed's"

        testCase "seed 003's CNN --quick prints the seed's accuracy beside ours and twelve ranked predictions"
        <| fun () ->
            let out = script "seeds/003-fashion-cnn.fsx" "--quick" [ "0.9103"; "Results provided by custom model (test image 0, a " ]
            let count = out.Split("Results provided by custom model").Length - 1
            Expect.equal count 12 "twelve predictions"
            Expect.isMatch out @"#3 [A-Za-z/ -]+ @ [0-9]+\.[0-9]{2}%" "ranked classes"

        testCase "seed 004 studies --quick prints every table with the seed's numbers beside ours"
        <| fun () ->
            let out =
                script "seeds/004-studies.fsx" "--quick" [
                    "initialisers"
                    "LeCun uniform, CNN, Fashion-MNIST"
                    "Adadelta 1e-3, MLP, Fashion-MNIST"
                    "Seed 004 Table 1, activations"
                    "Seed 004 Table 2, CNN size on Fashion-MNIST: 2-fold CV"
                    "2 level(s) × 10 filters"
                    "LR range test 1e-5 → 1"
                    "Random search, CNN on Fashion-MNIST"
                    "fine round:"
                    "Seed 004 Table 4: test accuracy, base → selected"
                    "Fashion-MNIST CNN, selected"
                    "ReLU and dropout kept"
                    "base rows: one training, shown in each table"
                ]
            for row in
                [
                    @"tanh, MLP, Fashion-MNIST +0\.887 +0\.[0-9]{4}"
                    @"linear, CNN, Fashion-MNIST +0\.895 +0\.[0-9]{4}"
                    @"L1 0\.1 \+ dropout, MLP, Fashion-MNIST +≈ 0\.1 +0\.[0-9]{4}"
                ] do
                Expect.isMatch out row "a sweep row with the seed's number"
            Expect.isMatch out @"Fashion-MNIST MLP, base \(epoch [0-9]+ of [0-9]+ kept\) +0\.869 +0\.[0-9]{4}" "Table 4's base row with the kept epoch and the seed's number"
            Expect.isMatch out @"rank 1 \(10 filters\) +0\.[0-9]{4} ± 0\.[0-9]{4} \(rank [1-6]\)" "Table 2 ranks"
            Expect.isTrue (File.Exists(Path.Combine(root, "examples", "output", "004-studies", "search_MLP_Fashion-MNIST", "fine", "compare.html"))) "the search's compare page"

        testCase "seed 004 studies: --table runs one table, MNIST without --data exits 3, an unknown table exits 2"
        <| fun () ->
            script "seeds/004-studies.fsx" "--quick --table activations" [ "Seed 004 Table 1, activations"; "activations: " ] |> ignore
            let code, output = runScript "seeds/004-studies.fsx" "--quick --sets mnist --table init"
            Expect.equal code 3 output
            Expect.stringContains output "train-images-idx3-ubyte.gz" output
            Expect.stringContains output "--sets fmnist" "the way out names the option, not --quick (which does not generate MNIST)"
            let code, output = runScript "seeds/004-studies.fsx" "--table nosuch"
            Expect.equal code 2 output
            Expect.stringContains output "the tables are init, optimizers" output

        testCase "seed 004 permuted pixels --quick prints Table 5, checks claim 11b on the real MLP and runs claims 11a-11c"
        <| fun () ->
            let out =
                script "seeds/004-permuted.fsx" "--quick" [
                    "Seed 004 Table 5"
                    "Fashion-MNIST MLP, original"
                    "Fashion-MNIST CNN, permuted"
                    "0.889"
                    "0.031"
                    "Claim 11b on the seed's MLP"
                    "bit for bit:"
                    "11a"
                    "11b"
                    "11c"
                ]
            Expect.isMatch out @"Fashion-MNIST CNN, difference +0\.031 +[+-]0\.[0-9]{4} ± 0\.[0-9]{4}" "the difference row"
            Expect.isMatch out @"epoch loss [0-9.]+ vs [0-9.]+ \(\|Δ\| [0-9.e-]+\)" "the two runs' losses"

        testCase "transfer_learning --demo --quick writes the held-out JPEG folders, freezes the base and compares with scratch"
        <| fun () ->
            script "transfer_learning.fsx" "--demo --quick" [
                "80 JPEG training images and 200 test images"
                "Param #    Trainable"
                "fc (Dense)                  (None, 2)                 66         Y"
                "seed 1: transfer + fine-tuning"
                "Results provided by selected model:"
                "margin (transfer wins by)"
            ]
            |> ignore

        testCase "transfer_learning without data or --demo says what it needs and exits with code 3"
        <| fun () ->
            let code, output = runScript "transfer_learning.fsx" ""
            Expect.equal code 3 output
            Expect.stringContains output "--data DIR" output

        testCase "a seed script without its data says what it needs and exits with code 3"
        <| fun () ->
            let code, output = runScript "seeds/001-cifar.fsx" ""
            Expect.equal code 3 output
            Expect.stringContains output "pass --data PATH" output
            Expect.stringContains output "cifar-10-binary.tar.gz" output

        testCase "theory prints verified and refuted claims" <| fun () -> script "theory.fsx" "8a 10c" [ "VERIFIED"; "REFUTED" ] |> ignore

        testCase "clocks_cnn --quick trains on the easy clocks and reads the time"
        <| fun () ->
            let out = script "clocks_cnn.fsx" "--quick" [ "preset easy, 256 training and 64 test clocks"; "trained 1 epochs" ]
            Expect.isMatch out @"hour accuracy [0-9.]+% \(chance 8.3%\), minute error median [0-9]+, mean [0-9.]+" "out"

        testCase "clocks renders clocks and writes both captioned grids"
        <| fun () ->
            let dir = System.IO.Directory.CreateTempSubdirectory("dsl-clocks-").FullName
            try
                script "clocks.fsx" (sprintf "30 --out %s" dir) [ "rendered 30 clocks"; "common-sense error 3:59 vs 4:01 = 2, 11:59 vs 0:01 = 2" ] |> ignore
                for name in [ "clocks.png"; "clocks_contrast.png" ] do
                    let path = System.IO.Path.Combine(dir, name)
                    Expect.isTrue (System.IO.File.Exists path) (sprintf "%s was written" name)
                    // A PNG's IHDR holds the width and height: 6 tiles of 150 px and 7 paddings of 4 px across.
                    let bytes = System.IO.File.ReadAllBytes path
                    let width = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(System.ReadOnlySpan(bytes, 16, 4))
                    Expect.equal width (6 * 154 + 4) (sprintf "%s width" name)
            finally
                System.IO.Directory.Delete(dir, true)
    ]
