/**
 * Edits of the exported registries in packages/events (`catalogue` in
 * catalogue.ts, `subscribers` in routing.ts) through the TypeScript parser,
 * not string search: the object literal is found by its variable's name, so
 * comments, formatting and the order of other entries do not matter and no
 * marker comment is needed in the file.
 */
import ts from 'typescript';
import { EditAnchorError } from './errors.js';

export interface RegistryObject {
  /** Property names, in source order (quotes removed). */
  names: string[];
  /** The source text of the property `name`, or undefined when absent. */
  propertyText(name: string): string | undefined;
  /** The file with `propertySource` appended as the object's last property. */
  withProperty(propertySource: string): string;
}

function unwrap(node: ts.Expression): ts.Expression {
  let current = node;
  while (
    ts.isAsExpression(current) ||
    ts.isSatisfiesExpression(current) ||
    ts.isParenthesizedExpression(current)
  ) {
    current = current.expression;
  }
  return current;
}

function propertyName(property: ts.ObjectLiteralElementLike): string | undefined {
  const name = property.name;
  if (name === undefined) return undefined;
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) {
    return name.text;
  }
  return undefined;
}

/**
 * The object literal that initialises the top-level `const <variable>` of
 * `source`. Throws EditAnchorError naming the file when there is none.
 */
export function findRegistryObject(source: string, file: string, variable: string): RegistryObject {
  const sourceFile = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  let found: ts.ObjectLiteralExpression | undefined;
  for (const statement of sourceFile.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      if (
        ts.isIdentifier(declaration.name) &&
        declaration.name.text === variable &&
        declaration.initializer !== undefined
      ) {
        const value = unwrap(declaration.initializer);
        if (ts.isObjectLiteralExpression(value)) found = value;
      }
    }
  }
  if (found === undefined) {
    throw new EditAnchorError(
      `${file}: found no "const ${variable} = { ... }" to add to; was it renamed?`,
    );
  }
  const object = found;
  return {
    names: object.properties.map(propertyName).filter((n): n is string => n !== undefined),
    propertyText(name) {
      return object.properties.find((p) => propertyName(p) === name)?.getText(sourceFile);
    },
    withProperty(propertySource) {
      const close = object.getEnd() - 1;
      const properties = object.properties;
      const comma = properties.length > 0 && !properties.hasTrailingComma ? ',' : '';
      // Before the closing brace: after any comment that ends the object.
      // The formatter run afterwards puts the comma and indentation right.
      return `${source.slice(0, close)}${comma}\n${propertySource},\n${source.slice(close)}`;
    },
  };
}

/**
 * Source text with whitespace and trailing commas removed, so an entry
 * compares equal however a formatter wrapped it.
 */
export function normaliseSource(text: string): string {
  return text.replace(/\s+/g, '').replace(/,([}\])])/g, '$1');
}
