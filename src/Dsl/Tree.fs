namespace Dsl

open Dsl.Engine

/// An immutable tree of named values: the parameters (or state) of a model. Paths join names with
/// dots, like `block1.conv.weight`. Children keep their order (the order of the layers).
[<RequireQualifiedAccess>]
type Tree<'T> =
    /// A value, such as one weight tensor.
    | Leaf of 'T
    /// Named subtrees, in order.
    | Node of (string * Tree<'T>) list

/// Parameter trees hold tensors.
type Params = Tree<Tensor>

/// Functions on trees. Edits return new trees (the old one is unchanged); tensors are shared, not copied.
module Tree =
    /// The empty tree.
    let empty<'T> : Tree<'T> = Tree.Node []

    /// True when the tree holds no leaves.
    let rec isEmpty (t: Tree<'T>) =
        match t with
        | Tree.Leaf _ -> false
        | Tree.Node kids -> kids |> List.forall (snd >> isEmpty)

    /// A node from named children, dropping empty children.
    let node (children: (string * Tree<'T>) list) : Tree<'T> = Tree.Node(children |> List.filter (snd >> isEmpty >> not))

    let private join (prefix: string) (name: string) = if prefix = "" then name else prefix + "." + name

    /// Every (path, leaf) pair, in order.
    let rec toList (t: Tree<'T>) : (string * 'T) list =
        let rec go prefix t =
            match t with
            | Tree.Leaf v -> [ prefix, v ]
            | Tree.Node kids -> kids |> List.collect (fun (n, k) -> go (join prefix n) k)
        go "" t

    /// Every leaf, in order.
    let leaves (t: Tree<'T>) : 'T list = toList t |> List.map snd

    /// The paths of every leaf, in order.
    let paths (t: Tree<'T>) : string list = toList t |> List.map fst

    /// The subtree or leaf at a dotted path.
    let rec tryFindTree (path: string) (t: Tree<'T>) : Tree<'T> option =
        if path = "" then
            Some t
        else
            match t with
            | Tree.Leaf _ -> None
            | Tree.Node kids ->
                let head, rest =
                    match path.IndexOf '.' with
                    | -1 -> path, ""
                    | i -> path.[.. i - 1], path.[i + 1 ..]
                kids |> List.tryFind (fst >> (=) head) |> Option.bind (snd >> tryFindTree rest)

    /// The leaf at a dotted path, if there is one.
    let tryFind (path: string) (t: Tree<'T>) : 'T option =
        match tryFindTree path t with
        | Some(Tree.Leaf v) -> Some v
        | _ -> None

    /// The leaf at a dotted path; fails naming the path and the paths that do exist.
    let find (path: string) (t: Tree<'T>) : 'T =
        match tryFind path t with
        | Some v -> v
        | None -> invalidArg "path" (sprintf "Tree.find: no leaf at '%s'. Paths: %s" path (String.concat ", " (paths t)))

    /// The child subtree named `name` (empty when absent).
    let child (name: string) (t: Tree<'T>) : Tree<'T> =
        match t with
        | Tree.Node kids -> kids |> List.tryFind (fst >> (=) name) |> Option.map snd |> Option.defaultValue empty
        | Tree.Leaf _ -> empty

    /// Applies f to every leaf, keeping the structure.
    let rec map (f: 'T -> 'U) (t: Tree<'T>) : Tree<'U> =
        match t with
        | Tree.Leaf v -> Tree.Leaf(f v)
        | Tree.Node kids -> Tree.Node(kids |> List.map (fun (n, k) -> n, map f k))

    /// Applies f to every (path, leaf), keeping the structure.
    let mapi (f: string -> 'T -> 'U) (t: Tree<'T>) : Tree<'U> =
        let rec go prefix t =
            match t with
            | Tree.Leaf v -> Tree.Leaf(f prefix v)
            | Tree.Node kids -> Tree.Node(kids |> List.map (fun (n, k) -> n, go (join prefix n) k))
        go "" t

    /// Combines two trees of the same structure leaf by leaf; fails naming the first path where they differ.
    let map2 (f: 'T -> 'U -> 'V) (a: Tree<'T>) (b: Tree<'U>) : Tree<'V> =
        let rec go prefix a b =
            match a, b with
            | Tree.Leaf x, Tree.Leaf y -> Tree.Leaf(f x y)
            | Tree.Node xs, Tree.Node ys when List.map fst xs = List.map fst ys -> Tree.Node(List.map2 (fun (n, x) (_, y) -> n, go (join prefix n) x y) xs ys)
            | _ -> invalidArg "b" (sprintf "Tree.map2: the trees differ in structure at '%s'" prefix)
        go "" a b

    /// A copy with the leaf at `path` replaced by `value` (the path must exist).
    let set (path: string) (value: 'T) (t: Tree<'T>) : Tree<'T> =
        let mutable found = false
        let r =
            mapi
                (fun p v ->
                    if p = path then
                        (found <- true
                         value)
                    else
                        v)
                t
        if not found then invalidArg "path" (sprintf "Tree.set: no leaf at '%s'. Paths: %s" path (String.concat ", " (paths t)))
        r

    /// A copy with the leaf at `path` replaced by `f leaf`.
    let update (path: string) (f: 'T -> 'T) (t: Tree<'T>) : Tree<'T> = set path (f (find path t)) t

    /// Number of leaves.
    let count (t: Tree<'T>) = List.length (leaves t)

    /// Builds a tree from (dotted path, leaf) pairs, keeping first-seen order.
    let ofList (pairs: (string * 'T) list) : Tree<'T> =
        let rec build (items: (string list * 'T) list) : Tree<'T> =
            match items with
            | [ ([], v) ] -> Tree.Leaf v
            | _ ->
                let names = items |> List.map (fst >> List.head) |> List.distinct
                Tree.Node(
                    names
                    |> List.map (fun n ->
                        n,
                        build [
                            for (p, v) in items do
                                if List.head p = n then yield List.tail p, v
                        ])
                )
        build (pairs |> List.map (fun (p: string, v) -> List.ofArray (p.Split '.'), v))

/// Tensor-specific operations on parameter trees.
module Params =
    /// Number of scalar parameters (elements) in the tree.
    let numel (t: Params) : int64 = Tree.leaves t |> List.sumBy (fun x -> x.Numel)

    /// Size in bytes of all the tensors.
    let bytes (t: Params) : int64 = Tree.leaves t |> List.sumBy (fun x -> x.Numel * int64 (x.DType.SizeOf()))

    /// Moves every tensor of the tree out of the given scope (so it survives the scope).
    let moveOut (scope: DisposeScope) (t: Params) : Params =
        Tree.leaves t |> List.iter (scope.MoveOut >> ignore)
        t

    /// Disposes every tensor of the tree.
    let dispose (t: Params) = Tree.leaves t |> List.iter (fun x -> x.Dispose())

    /// Independent copies (new storage), keeping requires-grad flags.
    let clone (t: Params) : Params = Tree.map (fun (x: Tensor) -> use _ = Autograd.NoGrad() in x.Clone().RequiresGrad_(x.RequiresGrad)) t
