/// Seed 000 Task 1: the study's parts as properties over smaller random widths (64–160, depth 50), the
/// a·x experiment over random N, and the engine's initialisers over random shapes.
module Dsl.Theory.Tests.Task1Tests

open FsCheck
open FsCheck.FSharp
open NUnit.Framework
open FsCheck.NUnit
open Dsl.Theory
open Dsl.Theory.Tests.Helpers
module G = Dsl.Theory.Tests.Generators

let private onStudy (check: int -> DeepStudy.Spec -> DeepStudy.Record list -> Verdict) =
    Prop.forAll G.study (fun spec -> verified (check 1 spec (DeepStudy.run spec)))

[<Property(MaxTest = 5)>]
let ``5a every setting's std follows its closed form at the report layers`` () = onStudy Task1.checkTable

[<Property(MaxTest = 5)>]
let ``5b N(0,1) weights overflow float32 within 2 layers of log(max)/log(sqrt d)`` () = onStudy Task1.checkOverflow

[<Property(MaxTest = 8)>]
let ``5c the std of a·x is sqrt N within its standard error`` () =
    Prop.forAll G.product (fun c -> verified (Task1.checkProduct 8 c))

[<Property(MaxTest = 5)>]
let ``5d N(0,1)/sqrt d keeps a deep linear net at E[x^2] = 1`` () = onStudy (Task1.checkConstant "N(0,1)/√d, linear")

[<Property(MaxTest = 5)>]
let ``5e Kaiming normal with ReLU keeps E[x^2] = 1`` () = onStudy (Task1.checkConstant "Kaiming normal (fan_in), ReLU")

[<Property(MaxTest = 5)>]
let ``5f Xavier uniform with ReLU shrinks the std by 1/sqrt 2 per layer`` () = onStudy Task1.checkXavierRelu

[<Property(MaxTest = 5)>]
let ``5g tanh follows the finite-width closure (power-law decay)`` () = onStudy Task1.checkTanh

[<Property(MaxTest = 3)>]
let ``5i tanh at depth d/4: the finite-width closure holds and the mean field is rejected`` () =
    Prop.forAll G.tanhCase (fun c -> verified (Task1.checkFiniteWidth 3 c))

[<Property(MaxTest = 100)>]
let ``5h the engine's initialisers have their stated means and variances`` () =
    Prop.forAll G.initializer (fun c -> verified (Initializers.check 100 c))

[<Test>]
let ``5 the overflow layer for d = 512 is 28.4`` () =
    Assert.That(DeepStudy.overflowLayer 512, Is.EqualTo(28.44).Within(0.01))

[<Test>]
let ``5g the mean-field recursion decays like 1/(2l), and the width-512 closure lies below it`` () =
    let mf, cl = DeepStudy.tanhSecondMoments 512 1.0 100
    Assert.That(mf.[99] * 200.0, Is.EqualTo(1.0).Within(0.05))
    Assert.That(cl.[99], Is.LessThan(mf.[99] * 0.97))
    Assert.That(cl.[0], Is.LessThan mf.[0])

[<Test>]
let ``5 conv fan-in is C_in·k_h·k_w`` () =
    let struct (fi, fo) = Dsl.Engine.Init.Fans [| 64L; 32L; 3L; 5L |]
    Assert.That(fi, Is.EqualTo(32L * 15L))
    Assert.That(fo, Is.EqualTo(64L * 15L))
