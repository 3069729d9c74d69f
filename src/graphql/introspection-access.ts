import { Kind, type DocumentNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { roleError, type Caller } from './auth.ts';
import type { ServiceError } from './errors.ts';

/** Introspection entry points; `__typename` is not one (it reveals nothing a response does not). */
const INTROSPECTION_FIELDS = new Set(['__schema', '__type']);

/** True when the operation (with the fragments it spreads) selects `__schema` or `__type`. */
export function usesIntrospection(document: DocumentNode, operation: OperationDefinitionNode): boolean {
  const fragments = new Map<string, SelectionSetNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition.selectionSet);
  }
  const seen = new Set<string>();
  const visit = (set: SelectionSetNode): boolean =>
    set.selections.some((selection) => {
      switch (selection.kind) {
        case Kind.FIELD:
          return INTROSPECTION_FIELDS.has(selection.name.value) || (selection.selectionSet !== undefined && visit(selection.selectionSet));
        case Kind.INLINE_FRAGMENT:
          return visit(selection.selectionSet);
        case Kind.FRAGMENT_SPREAD: {
          const name = selection.name.value;
          const target = fragments.get(name);
          if (seen.has(name) || target === undefined) return false;
          seen.add(name);
          return visit(target);
        }
        default:
          throw new Error(`unknown selection ${JSON.stringify(selection satisfies never)}`);
      }
    });
  return visit(operation.selectionSet);
}

/**
 * Introspection describes the whole API, so it needs the read role once keys
 * are configured (open mode allows it). Returns the error to refuse with, or null.
 */
export function introspectionError(caller: Caller, document: DocumentNode, operation: OperationDefinitionNode): ServiceError | null {
  return usesIntrospection(document, operation) ? roleError(caller, 'read') : null;
}
