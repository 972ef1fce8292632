namespace Dsl

open Dsl.Engine

/// Functional differentiation in the style of DiffSharp, on libtorch's autograd. Functions are
/// ordinary F# functions of tensors (or of parameter trees); results are new tensors, detached from
/// any graph. Hessians use double backward, not finite differences.
[<AutoOpen>]
module Autodiff =
    let private leaf (x: Tensor) = x.Detach().RequiresGrad_(true)

    /// The gradient autograd returned where it must return one (allowUnused off: libtorch fails instead of returning none).
    let private present (name: string) (g: Tensor | null) : Tensor =
        match g with
        | null -> invalidOp (sprintf "%s: autograd returned no gradient for an input it was required to reach" name)
        | g -> g

    let private scalarOf (name: string) (y: Tensor) =
        if y.Numel <> 1L then
            invalidArg
                "f"
                (sprintf "%s: f must return a scalar (one element) but returned shape [%s]; reduce it (sum, mean) or use jacobian" name (System.String.Join(", ", y.Shape)))

    /// The value f(x) and the gradient ∇f(x), for scalar-valued f of a tensor of any shape.
    let gradv (f: Tensor -> Tensor) (x: Tensor) : Tensor * Tensor =
        use scope = DisposeScope.Enter()
        let xl = leaf x
        let y = f xl
        scalarOf "grad" y
        let g = Autograd.Grad(y, xl)
        scope.MoveOut(y.Detach()), scope.MoveOut(g)

    /// The gradient ∇f(x) of a scalar-valued f.
    let grad (f: Tensor -> Tensor) (x: Tensor) : Tensor =
        let y, g = gradv f x
        y.Dispose()
        g

    /// The derivative of a scalar-to-scalar f at x (a one-element tensor).
    let diff (f: Tensor -> Tensor) (x: Tensor) : Tensor =
        if x.Numel <> 1L then invalidArg "x" (sprintf "diff: x must be a scalar, got shape [%s]; use grad or jacobian" (System.String.Join(", ", x.Shape)))
        grad f x

    /// The value f(x) and the vector-Jacobian product vᵀ·J_f(x) (shaped like x).
    let vjp (f: Tensor -> Tensor) (x: Tensor) (v: Tensor) : Tensor * Tensor =
        use scope = DisposeScope.Enter()
        let xl = leaf x
        let y = f xl
        let g = Autograd.Grad(y, xl, v)
        scope.MoveOut(y.Detach()), scope.MoveOut(g)

    /// The value f(x) and the Jacobian-vector product J_f(x)·v (shaped like f(x)), by the double-vjp trick.
    let jvp (f: Tensor -> Tensor) (x: Tensor) (v: Tensor) : Tensor * Tensor =
        use scope = DisposeScope.Enter()
        let xl = leaf x
        let y = f xl
        let u = Torch.Zeros(y.Shape, y.DType, y.Device, requiresGrad = true)
        let g = present "jvp" (Autograd.Grad([| y |], [| xl |], [| u |], createGraph = true).[0])
        let jv = present "jvp" (Autograd.Grad([| g |], [| u |], [| v |]).[0])
        scope.MoveOut(y.Detach()), scope.MoveOut(jv)

    /// The Jacobian of f at x: shape f(x).shape @ x.shape; one backward pass per output element.
    let jacobian (f: Tensor -> Tensor) (x: Tensor) : Tensor =
        use scope = DisposeScope.Enter()
        let xl = leaf x
        let y = f xl
        let flat = y.Reshape(-1L)
        let m = flat.Numel
        let rows = [|
            for i in 0L .. m - 1L ->
                let e = Torch.Zeros([| m |], y.DType, y.Device)
                e.Select(0L, i).Fill_(1.0) |> ignore
                match Autograd.Grad([| flat |], [| xl |], [| e |], retainGraph = true, allowUnused = true).[0] with
                | null -> Torch.Zeros(x.Shape, x.DType, x.Device)
                | g -> g
        |]
        let j = if m = 0L then Torch.Zeros(Array.append y.Shape x.Shape, x.DType, x.Device) else Torch.Stack(rows).Reshape(Array.append y.Shape x.Shape)
        scope.MoveOut j

    /// The Hessian of a scalar-valued f at x: shape x.shape @ x.shape, by double backward.
    let hessian (f: Tensor -> Tensor) (x: Tensor) : Tensor =
        use scope = DisposeScope.Enter()
        let xl = leaf x
        let y = f xl
        scalarOf "hessian" y
        let g = (present "hessian" (Autograd.Grad([| y |], [| xl |], createGraph = true).[0])).Reshape(-1L)
        let n = g.Numel
        let rows = [|
            for i in 0L .. n - 1L ->
                match Autograd.Grad([| g.Select(0L, i) |], [| xl |], retainGraph = true, allowUnused = true).[0] with
                | null -> Torch.Zeros(x.Shape, x.DType, x.Device)
                | h -> h
        |]
        scope.MoveOut(Torch.Stack(rows).Reshape(Array.append x.Shape x.Shape))

    /// The value and the gradient of a scalar loss of a whole parameter tree; the gradient is a tree of
    /// the same shape (zeros for parameters the loss does not use).
    let gradvTree (f: Params -> Tensor) (ps: Params) : Tensor * Params =
        use scope = DisposeScope.Enter()
        let leaves = Tree.map leaf ps
        let y = f leaves
        scalarOf "gradTree" y
        let xs = Tree.leaves leaves |> Array.ofList
        let gs = Autograd.Grad([| y |], xs, allowUnused = true)
        let grads =
            Array.map2
                (fun (g: Tensor | null) (x: Tensor) ->
                    match g with
                    | null -> Torch.Zeros(x.Shape, x.DType, x.Device)
                    | g -> g)
                gs
                xs
        let mutable i = -1
        let tree =
            Tree.map
                (fun _ ->
                    i <- i + 1
                    scope.MoveOut grads.[i])
                leaves
        scope.MoveOut(y.Detach()), tree

    /// The gradient of a scalar loss of a parameter tree, as a tree of the same shape.
    let gradTree (f: Params -> Tensor) (ps: Params) : Params =
        let y, g = gradvTree f ps
        y.Dispose()
        g
