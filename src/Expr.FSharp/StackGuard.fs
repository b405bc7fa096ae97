/// Deep trees: a .NET stack overflow cannot be caught, so every recursive walk over a user's tree goes through
/// here. While the stack has room the walk runs in place; when it runs low, it continues on a fresh thread with
/// a large stack (the pattern of .NET's own expression compiler) and the caller waits for it.
module internal ExprGrad.Symbolic.StackGuard

open System
open System.Runtime.CompilerServices
open System.Runtime.ExceptionServices
open System.Threading

/// Stack of each continuation thread: room for tens of thousands of recursive frames.
let private largeStack = 256 * 1024 * 1024

/// Runs f on a fresh thread with a large stack, waits, and rethrows its exception with its original trace.
let onLargeStack (f: unit -> 'T) : 'T =
    let mutable result = Unchecked.defaultof<'T>
    let mutable failure: ExceptionDispatchInfo option = None
    let worker =
        Thread((fun () ->
                    try result <- f ()
                    with e -> failure <- Some(ExceptionDispatchInfo.Capture e)),
               largeStack)
    worker.Start()
    worker.Join()
    match failure with
    | Some e ->
        e.Throw()
        Unchecked.defaultof<'T>
    | None -> result

/// Runs f here while the stack has room, otherwise on a fresh large stack. Call it at every recursive step.
let run (f: unit -> 'T) : 'T =
    if RuntimeHelpers.TryEnsureSufficientExecutionStack() then f () else onLargeStack f
