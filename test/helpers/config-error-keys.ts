import path from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from './source-tree.js';

/**
 * Every key a `ConfigError` in src/ can carry, read from the code with the TypeScript checker
 * (tsconfig.json's files: all of src/). A key argument resolves to literal keys when the code
 * says which: a string literal, a constant, anything whose type is a string literal or a union
 * of them (`as const` tables, a loop over a typed list, a parameter typed `'a' | 'b'`), a
 * template over such parts, `a ?? b` and `c ? a : b` over such parts. A parameter of a helper
 * (`positiveInt(key, v)`) is followed to every call of the helper in src/, and to its default
 * when a call leaves it out. What stays unresolved is reported as a dynamic expression, with
 * the file and line where it was given.
 */

export interface KeySite {
  /** Repository-relative path of the file. */
  readonly file: string;
  readonly line: number;
}

export interface LiteralKey extends KeySite {
  readonly key: string;
}

export interface DynamicKey extends KeySite {
  /** The source text of the unresolved expression, whitespace collapsed. */
  readonly expression: string;
}

export interface ConfigErrorKeys {
  /** Every construction of a ConfigError: `new ConfigError(…)`, `super(…)` in a subclass. */
  readonly sites: readonly KeySite[];
  readonly literals: readonly LiteralKey[];
  readonly dynamic: readonly DynamicKey[];
}

type Callable = ts.FunctionLikeDeclaration;
type CallLike = ts.CallExpression | ts.NewExpression;

function program(): ts.Program {
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(REPO_ROOT, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (parsed === undefined) throw new Error('cannot read tsconfig.json');
  return ts.createProgram({ rootNames: parsed.fileNames, options: { ...parsed.options, noEmit: true } });
}

function strip(e: ts.Expression): ts.Expression {
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isNonNullExpression(e) || ts.isTypeAssertionExpression(e)) {
    e = e.expression;
  }
  return e;
}

function walk(node: ts.Node, visit: (n: ts.Node) => void): void {
  visit(node);
  ts.forEachChild(node, (child) => walk(child, visit));
}

class Reader {
  readonly #checker: ts.TypeChecker;
  readonly #files: readonly ts.SourceFile[];
  /** Calls and `new`s in src/, by the symbol of what they call. */
  readonly #calls = new Map<ts.Symbol, CallLike[]>();
  /** Parameters being followed now: a helper that passes its key to itself ends the walk. */
  readonly #following = new Set<ts.ParameterDeclaration>();
  readonly sites: KeySite[] = [];
  readonly literals: LiteralKey[] = [];
  readonly dynamic: DynamicKey[] = [];

  constructor(p: ts.Program) {
    this.#checker = p.getTypeChecker();
    this.#files = p.getSourceFiles().filter((f) => !f.isDeclarationFile && path.relative(REPO_ROOT, f.fileName).startsWith('src' + path.sep));
    for (const file of this.#files) {
      walk(file, (n) => {
        if (!ts.isCallExpression(n) && !ts.isNewExpression(n)) return;
        const callee = this.#symbol(n.expression);
        if (callee === undefined) return;
        const list = this.#calls.get(callee) ?? [];
        list.push(n);
        this.#calls.set(callee, list);
      });
    }
  }

  /** The declared symbol behind a name, through imports and re-exports. */
  #symbol(node: ts.Node): ts.Symbol | undefined {
    const s = this.#checker.getSymbolAtLocation(node);
    if (s === undefined) return undefined;
    return s.flags & ts.SymbolFlags.Alias ? this.#checker.getAliasedSymbol(s) : s;
  }

  read(): void {
    const errorsFile = this.#files.find((f) => path.relative(REPO_ROOT, f.fileName) === path.join('src', 'errors.ts'));
    const base = errorsFile?.statements.find((s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === 'ConfigError');
    if (base?.name === undefined) throw new Error('src/errors.ts declares no class ConfigError');
    const classes = new Set([this.#symbol(base.name)!]);
    // Subclasses (at any depth) construct a ConfigError through `super(key, …)`.
    for (let grew = true; grew; ) {
      grew = false;
      for (const file of this.#files) {
        walk(file, (n) => {
          if (!ts.isClassDeclaration(n) || n.name === undefined) return;
          const sym = this.#symbol(n.name)!;
          const parent = n.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0];
          if (parent !== undefined && !classes.has(sym) && classes.has(this.#symbol(parent.expression)!)) {
            classes.add(sym);
            grew = true;
          }
        });
      }
    }
    const configError = this.#symbol(base.name)!;
    for (const file of this.#files) {
      walk(file, (n) => {
        let keyArg: ts.Expression | undefined;
        if (ts.isNewExpression(n)) {
          if (this.#symbol(n.expression) !== configError) return;
          keyArg = n.arguments?.[0];
        } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.SuperKeyword) {
          // A subclass's key is its super call's; its own parameters lead to its `new` calls.
          const cls = ts.findAncestor(n, ts.isConstructorDeclaration)?.parent;
          const sym = cls !== undefined && ts.isClassDeclaration(cls) && cls.name !== undefined ? this.#symbol(cls.name) : undefined;
          if (sym === undefined || sym === configError || !classes.has(sym)) return;
          keyArg = n.arguments[0];
        } else return;
        this.sites.push(this.#where(n));
        if (keyArg === undefined) this.dynamic.push({ ...this.#where(n), expression: '(no key argument)' });
        else this.#record(keyArg);
      });
    }
  }

  #where(n: ts.Node): KeySite {
    const file = n.getSourceFile();
    return { file: path.relative(REPO_ROOT, file.fileName).split(path.sep).join('/'), line: file.getLineAndCharacterOfPosition(n.getStart()).line + 1 };
  }

  /** Records what `e` can be: its literal keys, or `e` itself as a dynamic key. */
  #record(e: ts.Expression): void {
    const bare = strip(e);
    const typed = this.#literalType(bare);
    const param = typed === undefined ? this.#parameter(bare) : undefined;
    if (param !== undefined) {
      this.#recordParameter(param, bare);
      return;
    }
    const keys = typed ?? this.#values(bare);
    if (keys === undefined) this.dynamic.push({ ...this.#where(e), expression: e.getText().replace(/\s+/g, ' ') });
    else for (const key of keys) this.literals.push({ ...this.#where(e), key });
  }

  /** A key given as a parameter: whatever each call passes for it. */
  #recordParameter(param: ts.ParameterDeclaration, use: ts.Expression): void {
    if (this.#following.has(param)) return;
    this.#following.add(param);
    try {
      const args = this.#arguments(param);
      if (args === undefined) this.dynamic.push({ ...this.#where(use), expression: `${use.getText()} (a parameter no call in src/ passes)` });
      else for (const a of args) this.#record(a);
    } finally {
      this.#following.delete(param);
    }
  }

  /** Every expression a parameter receives: the argument of each call, or its default. */
  #arguments(param: ts.ParameterDeclaration): ts.Expression[] | undefined {
    const fn = param.parent as Callable;
    const index = fn.parameters.indexOf(param);
    const calls = this.#callsOf(fn);
    if (calls === undefined || calls.length === 0) return undefined;
    const out: ts.Expression[] = [];
    for (const call of calls) {
      const args = call.arguments ?? [];
      if (args.slice(0, index + 1).some((a) => ts.isSpreadElement(a))) return undefined;
      const a = args[index];
      if (a !== undefined) out.push(a);
      else if (param.initializer !== undefined) out.push(param.initializer);
    }
    return out;
  }

  #callsOf(fn: Callable): CallLike[] | undefined {
    let name: ts.Node | undefined;
    if (ts.isConstructorDeclaration(fn)) name = (fn.parent as ts.ClassLikeDeclaration).name;
    else if ((ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn)) && fn.name !== undefined) name = fn.name;
    else if ((ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) && (ts.isVariableDeclaration(fn.parent) || ts.isPropertyAssignment(fn.parent))) name = fn.parent.name;
    const sym = name === undefined ? undefined : this.#symbol(name);
    return sym === undefined ? undefined : this.#calls.get(sym);
  }

  #parameter(e: ts.Expression): ts.ParameterDeclaration | undefined {
    if (!ts.isIdentifier(e)) return undefined;
    const decl = this.#checker.getSymbolAtLocation(e)?.valueDeclaration;
    return decl !== undefined && ts.isParameter(decl) && ts.isIdentifier(decl.name) ? decl : undefined;
  }

  /** The values of a string literal type or a union of them (`undefined` and `null` left out). */
  #literalType(e: ts.Expression): string[] | undefined {
    const type = this.#checker.getTypeAtLocation(e);
    const parts = type.isUnion() ? type.types : [type];
    const out: string[] = [];
    for (const t of parts) {
      if (t.isStringLiteral()) out.push(t.value);
      else if (!(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null))) return undefined;
    }
    return out.length > 0 ? out : undefined;
  }

  /** The keys an expression can be, or undefined when the code does not say. */
  #values(e: ts.Expression): string[] | undefined {
    e = strip(e);
    const typed = this.#literalType(e);
    if (typed !== undefined) return typed;
    if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return [e.text];
    if (ts.isConditionalExpression(e)) return both(this.#values(e.whenTrue), this.#values(e.whenFalse));
    if (ts.isBinaryExpression(e) && (e.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken || e.operatorToken.kind === ts.SyntaxKind.BarBarToken)) {
      return both(this.#values(e.left), this.#values(e.right));
    }
    if (ts.isTemplateExpression(e)) {
      let out = [e.head.text];
      for (const span of e.templateSpans) {
        const parts = this.#values(span.expression);
        if (parts === undefined) return undefined;
        out = out.flatMap((prefix) => parts.map((p) => prefix + p + span.literal.text));
      }
      return out;
    }
    if (ts.isIdentifier(e)) {
      const param = this.#parameter(e);
      if (param !== undefined) {
        if (this.#following.has(param)) return undefined;
        this.#following.add(param);
        try {
          const args = this.#arguments(param);
          if (args === undefined) return undefined;
          let out: string[] | undefined = [];
          for (const a of args) out = both(out, this.#values(a));
          return out;
        } finally {
          this.#following.delete(param);
        }
      }
      const decl = this.#checker.getSymbolAtLocation(e)?.valueDeclaration;
      if (decl !== undefined && ts.isVariableDeclaration(decl) && decl.initializer !== undefined && ts.getCombinedNodeFlags(decl) & ts.NodeFlags.Const) {
        return this.#values(decl.initializer);
      }
    }
    return undefined;
  }
}

function both(a: string[] | undefined, b: string[] | undefined): string[] | undefined {
  return a === undefined || b === undefined ? undefined : [...a, ...b];
}

/** Reads every ConfigError key of src/ (a type-checked program: about two seconds). */
export function configErrorKeys(): ConfigErrorKeys {
  const reader = new Reader(program());
  reader.read();
  return { sites: reader.sites, literals: reader.literals, dynamic: reader.dynamic };
}
