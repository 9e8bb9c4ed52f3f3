/** A Repository as the client's targets search reads it (metadata/search.ts), staged edits included. */
import type { TargetsGraph } from '../metadata/search.js';
import type { Repository } from './repository.js';

/** Reads through `repo.getTargets`, which throws NotFoundError for a role the repository does not have. */
export function repositoryTargetsGraph(repo: Repository): TargetsGraph {
  return {
    target: async (role, path) => (await repo.getTargets(role)).targets.get(path),
    delegations: async (role) => (await repo.getTargets(role)).delegations,
  };
}
