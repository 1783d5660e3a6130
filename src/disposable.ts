// Symbol.dispose and Disposable for consumers whose TypeScript lib lacks esnext.disposable
// (lib: ["ES2022"], types: []): the same declarations @types/node makes, so they all merge. Node 20 defines
// Symbol.dispose at run time; `using` needs Node 24+ (V8 13.x) or a transpiler.
declare global {
  interface SymbolConstructor {
    /** The method `using` calls when the block ends. */
    readonly dispose: unique symbol;
  }
  /** What `using` accepts: Backend, Vm and Vcpu are Disposable. */
  interface Disposable {
    [Symbol.dispose](): void;
  }
}
export {};
