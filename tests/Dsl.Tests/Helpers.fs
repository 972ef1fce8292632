/// Small helpers shared by the DSL tests: tensors from and to F# arrays, tolerant comparison, and
/// running a check inside a DisposeScope so that property runs do not accumulate native memory.
module Dsl.Tests.Helpers

open Expecto
open Dsl
open Dsl.Engine

/// A float64 tensor of the given shape from values.
let f64 (shape: int64 list) (values: float[]) : Tensor = Torch.From<float>(values, Array.ofList shape)

/// A float32 tensor of the given shape from values.
let f32 (shape: int64 list) (values: float32[]) : Tensor = Torch.From<float32>(values, Array.ofList shape)

/// The elements of a tensor as float64 (converting the dtype when needed).
let values (t: Tensor) : float[] = if t.DType = DType.Float64 then t.ToArray<float>() else Scope.run (fun () -> t.To(DType.Float64).ToArray<float>())

/// Largest absolute difference between two arrays of the same length (infinity if the lengths differ).
let maxAbsDiff (a: float[]) (b: float[]) = if a.Length <> b.Length then infinity else Array.fold2 (fun m x y -> max m (abs (x - y))) 0.0 a b

/// True when every |a − b| ≤ atol + rtol·|b|.
let close (atol: float) (rtol: float) (a: float[]) (b: float[]) = a.Length = b.Length && Array.forall2 (fun x y -> abs (x - y) <= atol + rtol * abs y) a b

/// Runs a check inside a DisposeScope (every tensor it creates is freed afterwards).
let scoped (f: unit -> 'T) : 'T = Scope.run f

/// The live-tensor count once finalizers have run (two collections), for tests that assert it returns to a baseline.
let settledLive () =
    for _ in 1..2 do
        System.GC.Collect()
        System.GC.WaitForPendingFinalizers()
    Tensor.LiveCount

/// A single-tensor Shape.
let dims (d: int64 list) = Shape.Dims d

/// Asserts F# structural equality, printing both values with %A on failure.
let expectEqual (what: string) (expected: 'T) (actual: 'T) = if actual <> expected then failtest (sprintf "%s:\n  expected %A\n  but got  %A" what expected actual)

/// Asserts that `text` contains `part`, printing the text on failure.
let expectContains (part: string) (text: string) = if not (text.Contains part) then failtest (sprintf "expected the text to contain %A; it is:\n%s" part text)

/// Asserts that `text` does not contain `part`.
let expectNotContains (part: string) (text: string) = if text.Contains part then failtest (sprintf "expected the text not to contain %A; it is:\n%s" part text)

/// The FsCheck configuration of a property test that checks `n` generated cases (NUnit's
/// `[<Property(MaxTest = n)>]`); everything else, shrinking included, is FsCheck's default.
let maxTest (n: int) : FsCheckConfig = { FsCheckConfig.defaultConfig with maxTest = n }

/// The accuracy for `Expect.floatClose` that accepts |actual − expected| ≤ tol (NUnit's `Is.EqualTo(x).Within(tol)`).
let within (tol: float) : Accuracy<float, float> = { absolute = tol; relative = 0.0 }

/// Asserts lo ≤ actual ≤ hi (NUnit's `Is.InRange(lo, hi)`).
let expectInRange (lo: 'T) (hi: 'T) (actual: 'T) (message: string) = if not (lo <= actual && actual <= hi) then failtestf "%s. Expected %A to be in [%A, %A]." message actual lo hi

/// Runs `f` and asserts that it throws an exception of exactly the type 'E (not a subtype, as NUnit's
/// `Assert.Throws<'E>`); returns the exception.
let expectThrows<'E when 'E :> exn> (f: unit -> unit) : 'E =
    let thrown =
        try
            f ()
            None
        with e ->
            Some e
    match thrown with
    | Some(:? 'E as e) when e.GetType() = typeof<'E> -> e
    | Some e -> failtestf "expected %s to be thrown, but %s was thrown: %s" typeof<'E>.FullName (e.GetType().FullName) e.Message
    | None -> failtestf "expected %s to be thrown, but nothing was thrown" typeof<'E>.FullName

/// Runs `f` and asserts that it throws some exception (NUnit's `Assert.Catch`); returns the exception.
let expectCatch (f: unit -> unit) : exn =
    let thrown =
        try
            f ()
            None
        with e ->
            Some e
    match thrown with
    | Some e -> e
    | None -> failtest "expected an exception to be thrown, but nothing was thrown"
