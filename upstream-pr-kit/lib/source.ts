// Finds upstream's declarations by name with the TypeScript compiler API and
// splices text written in this kit around them. Every finder throws a
// KitError that names what it looked for, so a release that moved or renamed
// something stops the kit instead of producing a patch that silently does
// nothing.
import ts from "typescript";

export type FunctionLike =
  | ts.ArrowFunction
  | ts.FunctionDeclaration
  | ts.FunctionExpression
  | ts.MethodDeclaration;

export class KitError extends Error {
  override name = "KitError";
}

/** One source file of the unpacked release, edited in memory. */
export class SourceText {
  get source(): ts.SourceFile {
    return ts.createSourceFile(
      this.path,
      this.text,
      ts.ScriptTarget.Latest,
      true,
      ts.ScriptKind.TS,
    );
  }

  constructor(
    readonly path: string,
    public text: string,
  ) {}

  /** Fails with `what` in the message when `value` is missing. */
  expect<T>(value: null | T | undefined, what: string): T {
    if (value === undefined || value === null) {
      throw new KitError(`${this.path}: could not find ${what}`);
    }

    return value;
  }

  /** The whitespace that starts the line `node` starts on. */
  indentOf(node: ts.Node): string {
    const start = node.getStart();
    const lineStart = this.text.lastIndexOf("\n", start - 1) + 1;

    return /^[ \t]*/.exec(this.text.slice(lineStart, start))![0];
  }

  insertAfter(node: ts.Node, text: string): void {
    this.splice(node.getEnd(), node.getEnd(), text);
  }

  insertBefore(node: ts.Node, text: string): void {
    const start = node.getStart();
    this.splice(start, start, text);
  }

  /** Inserts `text` before a statement and the comments that lead it. */
  insertBeforeStatement(node: ts.Node, text: string): void {
    const comments =
      ts.getLeadingCommentRanges(this.text, node.getFullStart()) ?? [];
    const start = comments[0]?.pos ?? node.getStart();
    this.splice(start, start, text);
  }

  replace(node: ts.Node, text: string): void {
    this.splice(node.getStart(), node.getEnd(), text);
  }

  /** Replaces `node` together with the leading comments and indent of its line. */
  replaceStatement(node: ts.Node, text: string): void {
    const start = node.getFullStart();
    const lineStart = this.text.lastIndexOf("\n", node.getStart() - 1) + 1;
    this.splice(Math.max(start, lineStart), node.getEnd(), text);
  }

  splice(start: number, end: number, text: string): void {
    this.text = this.text.slice(0, start) + text + this.text.slice(end);
  }
}

export const descendants = (node: ts.Node): ts.Node[] => {
  const found: ts.Node[] = [];
  const visit = (child: ts.Node) => {
    found.push(child);
    child.forEachChild(visit);
  };
  node.forEachChild(visit);

  return found;
};

/** A top-level `const name = (…) => …` or `function name(…)`. */
export const findFunction = (file: SourceText, name: string): FunctionLike => {
  for (const statement of file.source.statements) {
    if (ts.isFunctionDeclaration(statement) && statement.name?.text === name) {
      return statement;
    }

    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        if (
          ts.isIdentifier(declaration.name) &&
          declaration.name.text === name &&
          declaration.initializer &&
          (ts.isArrowFunction(declaration.initializer) ||
            ts.isFunctionExpression(declaration.initializer))
        ) {
          return declaration.initializer;
        }
      }
    }
  }

  throw new KitError(`${file.path}: could not find function "${name}"`);
};

/** The top-level statement that declares `name` (a const, function, interface…). */
export const findTopLevel = (file: SourceText, name: string): ts.Statement => {
  for (const statement of file.source.statements) {
    if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement)) &&
      statement.name?.text === name
    ) {
      return statement;
    }

    if (
      ts.isVariableStatement(statement) &&
      statement.declarationList.declarations.some(
        (declaration) =>
          ts.isIdentifier(declaration.name) && declaration.name.text === name,
      )
    ) {
      return statement;
    }
  }

  throw new KitError(`${file.path}: could not find a declaration of "${name}"`);
};

export const findMethod = (
  file: SourceText,
  className: string,
  methodName: string,
): ts.MethodDeclaration => {
  const declaration = findTopLevel(file, className);
  const method = ts.isClassDeclaration(declaration)
    ? declaration.members.find(
        (member): member is ts.MethodDeclaration =>
          ts.isMethodDeclaration(member) &&
          ts.isIdentifier(member.name) &&
          member.name.text === methodName,
      )
    : undefined;

  return file.expect(method, `method "${className}.${methodName}"`);
};

/** Calls of `callee(…)` (an identifier or the last name of `a.b.callee(…)`). */
export const findCalls = (
  scope: ts.Node,
  callee: string,
): ts.CallExpression[] =>
  descendants(scope).filter(
    (node): node is ts.CallExpression =>
      ts.isCallExpression(node) &&
      ((ts.isIdentifier(node.expression) && node.expression.text === callee) ||
        (ts.isPropertyAccessExpression(node.expression) &&
          node.expression.name.text === callee)),
  );

export const findCallsOrFail = (
  file: SourceText,
  scope: ts.Node,
  callee: string,
  where: string,
  count?: number,
): ts.CallExpression[] => {
  const calls = findCalls(scope, callee);

  if (calls.length === 0 || (count !== undefined && calls.length !== count)) {
    throw new KitError(
      `${file.path}: expected ${count ?? "at least one"} call(s) of "${callee}" in ${where}, found ${calls.length}`,
    );
  }

  return calls;
};

/** The first `if` in `scope` whose condition's text contains every fragment. */
export const findIf = (
  file: SourceText,
  scope: ts.Node,
  fragments: string[],
  where: string,
): ts.IfStatement =>
  file.expect(
    descendants(scope).find(
      (node): node is ts.IfStatement =>
        ts.isIfStatement(node) &&
        fragments.every((fragment) =>
          node.expression.getText().includes(fragment),
        ),
    ),
    `an if (${fragments.join(" … ")}) in ${where}`,
  );

export const findProperty = (
  file: SourceText,
  scope: ts.Node,
  name: string,
  where: string,
): ts.PropertyAssignment =>
  file.expect(
    descendants(scope).find(
      (node): node is ts.PropertyAssignment =>
        ts.isPropertyAssignment(node) && node.name.getText() === name,
    ),
    `property "${name}" in ${where}`,
  );

/** The object-literal argument of a call, e.g. `handleSSERequest({ … })`. */
export const objectArgument = (
  file: SourceText,
  call: ts.CallExpression,
): ts.ObjectLiteralExpression =>
  file.expect(
    call.arguments.find(ts.isObjectLiteralExpression),
    `an object argument in ${call.expression.getText()}(…)`,
  );

const nameOf = (node: ts.Node): string => {
  if (
    ts.isBindingElement(node) ||
    ts.isPropertySignature(node) ||
    ts.isShorthandPropertyAssignment(node) ||
    ts.isPropertyAssignment(node)
  ) {
    return node.name.getText();
  }

  return node.getText();
};

/**
 * Inserts `text` (one element, without its separator) into a comma-separated,
 * one-per-line list, before the first element whose name sorts after `name`
 * as perfectionist's alphabetical order does, so upstream's lint stays green.
 */
export const insertSorted = (
  file: SourceText,
  elements: ts.Node[] | ts.NodeArray<ts.Node>,
  name: string,
  text: string,
  where: string,
): void => {
  if (elements.some((element) => nameOf(element) === name)) {
    throw new KitError(`${file.path}: "${name}" is already in ${where}`);
  }

  const compare = (a: string, b: string) =>
    a.localeCompare(b, "en", { sensitivity: "base" });
  const next = elements.find((element) => compare(nameOf(element), name) > 0);

  // Type members carry their own `;`; list elements are joined by commas.
  const isMember = elements.some((element) => ts.isTypeElement(element));

  if (next) {
    file.insertBefore(
      next,
      `${text}${isMember ? ";" : ","}\n${file.indentOf(next)}`,
    );

    return;
  }

  const last = file.expect(elements.at(-1), `any element in ${where}`);
  file.insertAfter(
    last,
    isMember
      ? `\n${file.indentOf(last)}${text};`
      : `,\n${file.indentOf(last)}${text}`,
  );
};

/** The destructured parameter and its inline type literal of `({ … }: { … })`. */
export const objectParameter = (
  file: SourceText,
  fn: FunctionLike,
  where: string,
): { pattern: ts.ObjectBindingPattern; type: ts.TypeLiteralNode } => {
  const parameter = file.expect(fn.parameters[0], `a parameter of ${where}`);

  if (
    !ts.isObjectBindingPattern(parameter.name) ||
    !parameter.type ||
    !ts.isTypeLiteralNode(parameter.type)
  ) {
    throw new KitError(
      `${file.path}: ${where} no longer takes one destructured object typed inline`,
    );
  }

  return { pattern: parameter.name, type: parameter.type };
};

/** Adds a binding to `({ … }: { … })`, keeping both lists sorted. */
export const addObjectParameter = (
  file: SourceText,
  functionName: string,
  name: string,
  type: string,
): void => {
  const where = `the parameter of ${functionName}`;
  insertSorted(
    file,
    objectParameter(file, findFunction(file, functionName), where).pattern
      .elements,
    name,
    name,
    where,
  );
  insertSorted(
    file,
    objectParameter(file, findFunction(file, functionName), where).type.members,
    name,
    `${name}${type}`,
    `the parameter type of ${functionName}`,
  );
};

/** Adds `name` to `import { … } from "<module>"`, sorted. */
export const addNamedImport = (
  file: SourceText,
  moduleName: string,
  name: string,
): void => {
  const declaration = file.expect(
    file.source.statements.find(
      (statement): statement is ts.ImportDeclaration =>
        ts.isImportDeclaration(statement) &&
        ts.isStringLiteral(statement.moduleSpecifier) &&
        statement.moduleSpecifier.text === moduleName,
    ),
    `import from "${moduleName}"`,
  );
  const bindings = declaration.importClause?.namedBindings;

  if (!bindings || !ts.isNamedImports(bindings)) {
    throw new KitError(
      `${file.path}: import from "${moduleName}" has no { … }`,
    );
  }

  const names = [
    ...bindings.elements.map((element) => element.getText()),
    name,
  ].sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" }));
  const isType = declaration.importClause?.isTypeOnly ? "type " : "";
  const oneLine = `import ${isType}{ ${names.join(", ")} } from "${moduleName}";`;
  file.replace(
    declaration,
    oneLine.length <= 80
      ? oneLine
      : `import ${isType}{\n${names.map((n) => `  ${n},\n`).join("")}} from "${moduleName}";`,
  );
};

/** Adds `name` to `export [type] { … } from "<module>"`, sorted. */
export const addNamedExport = (
  file: SourceText,
  moduleName: string,
  name: string,
  typeOnly: boolean,
): void => {
  const declaration = file.expect(
    file.source.statements.find(
      (statement): statement is ts.ExportDeclaration =>
        ts.isExportDeclaration(statement) &&
        statement.isTypeOnly === typeOnly &&
        statement.moduleSpecifier !== undefined &&
        ts.isStringLiteral(statement.moduleSpecifier) &&
        statement.moduleSpecifier.text === moduleName,
    ),
    `export ${typeOnly ? "type " : ""}{ … } from "${moduleName}"`,
  );
  const clause = declaration.exportClause;

  if (!clause || !ts.isNamedExports(clause)) {
    throw new KitError(
      `${file.path}: export from "${moduleName}" has no { … }`,
    );
  }

  const names = [...clause.elements.map((element) => element.getText()), name]
    .filter((value, index, all) => all.indexOf(value) === index)
    .sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" }));
  const keyword = typeOnly ? "export type" : "export";
  const oneLine = `${keyword} { ${names.join(", ")} } from "${moduleName}";`;
  file.replace(
    declaration,
    oneLine.length <= 80
      ? oneLine
      : `${keyword} {\n${names.map((n) => `  ${n},\n`).join("")}} from "${moduleName}";`,
  );
};

/** The statements of a function's block body. */
export const bodyOf = (file: SourceText, fn: FunctionLike): ts.Block =>
  file.expect(
    fn.body && ts.isBlock(fn.body) ? fn.body : undefined,
    "a block body",
  );

/** Indents every non-empty line of a snippet by `indent`. */
export const indent = (snippet: string, by: string): string =>
  snippet
    .split("\n")
    .map((line) => (line.length > 0 ? by + line : line))
    .join("\n");

/** The `it("<title>", …)` (or `test(…)`) call of a test file, by its title. */
export const findTest = (file: SourceText, title: string): ts.CallExpression =>
  file.expect(
    descendants(file.source).find(
      (node): node is ts.CallExpression =>
        ts.isCallExpression(node) &&
        ts.isIdentifier(node.expression) &&
        ["it", "test"].includes(node.expression.text) &&
        node.arguments[0] !== undefined &&
        ts.isStringLiteral(node.arguments[0]) &&
        node.arguments[0].text === title,
    ),
    `test "${title}"`,
  );

/**
 * In upstream's test `title`, replaces the statement whose text is `before`
 * (whitespace-insensitive) with `after`, and optionally renames the test.
 */
export const rewriteTest = (
  file: SourceText,
  title: string,
  before: string,
  after: string,
  newTitle?: string,
): void => {
  const squash = (text: string) => text.replace(/\s+/g, "");
  const statement = file.expect(
    descendants(findTest(file, title)).find(
      (node) =>
        ts.isExpressionStatement(node) &&
        squash(node.getText()) === squash(before),
    ),
    `\`${before}\` in test "${title}"`,
  );
  file.replace(statement, after);

  if (newTitle) {
    file.replace(findTest(file, title).arguments[0], JSON.stringify(newTitle));
  }
};
