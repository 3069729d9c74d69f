// The session definition the dashboard shows (docs/definitions.md): the page's
// `?definition=` parameter, `default` when absent. Changing it reloads the
// page, so every query and subscription of the page follows one definition.

/** The definition named by the page's address. */
export function currentDefinition(location: Pick<Location, 'search'> = window.location): string {
  const name = new URLSearchParams(location.search).get('definition');
  return name === null || name === '' ? 'default' : name;
}
