"""The conductor client's identity methods (topic ``identity``: projects,
users, roles, tokens; served by agent.conductor.identity and auth).
agent.conductor.rpcapi joins them into ConductorAPI; their versions are in
ConductorAPI's history there.
"""
from agent.conductor.topics_rpcapi import IDENTITY_TOPIC
from agent.rpc import clients


class IdentityMethods(clients.Client):
    """Topic ``identity``: projects, users, roles and tokens (served by
    agent.conductor.identity.IdentityManager and auth.AuthManager)."""
    SERVES = IDENTITY_TOPIC


    def authenticate(self, ctxt, *, password, user=clients.UNSET,
                     user_id=clients.UNSET, project=clients.UNSET):
        return self._call(
            ctxt, 'authenticate', topic=IDENTITY_TOPIC,
            version='1.8' if user_id is clients.UNSET else '1.20',
            user=user, user_id=user_id, password=password, project=project)

    def bootstrap(self, ctxt, *, user, project, password_hash=clients.UNSET,
                  password=clients.UNSET):
        version = '1.8' if password else '1.2'
        return self._call(
            ctxt, 'bootstrap', topic=IDENTITY_TOPIC, version=version,
            user=user, password_hash=password_hash, password=password,
            project=project)

    def password_change(self, ctxt, *, user_id, original_password, password):
        return self._call(
            ctxt, 'password_change', topic=IDENTITY_TOPIC, version='1.8',
            user_id=user_id, original_password=original_password,
            password=password)

    def project_create(self, ctxt, *, name, description=clients.UNSET):
        return self._call(
            ctxt, 'project_create', topic=IDENTITY_TOPIC, version='1.2',
            name=name, description=description)

    def project_list(self, ctxt, *, limit=clients.UNSET, marker=clients.UNSET):
        return self._call(
            ctxt, 'project_list', topic=IDENTITY_TOPIC, version='1.2',
            limit=limit, marker=marker)

    def project_show(self, ctxt, *, ref):
        return self._call(
            ctxt, 'project_show', topic=IDENTITY_TOPIC, version='1.2', ref=ref)

    def project_delete(self, ctxt, *, project_id):
        return self._call(
            ctxt, 'project_delete', topic=IDENTITY_TOPIC, version='1.20',
            project_id=project_id)

    def role_assign(self, ctxt, *, user, project_id, role,
                    revoke=clients.UNSET):
        return self._call(
            ctxt, 'role_assign', topic=IDENTITY_TOPIC, version='1.2',
            user=user, project_id=project_id, role=role, revoke=revoke)

    def token_check(self, ctxt, *, token_id, user_id, project_id,
                    issued_at=clients.UNSET):
        version = '1.8' if issued_at is not clients.UNSET else '1.2'
        return self._call(
            ctxt, 'token_check', topic=IDENTITY_TOPIC, version=version,
            token_id=token_id, user_id=user_id, project_id=project_id,
            issued_at=issued_at)

    def token_revoke(self, ctxt, *, token_id, expires_at):
        return self._call(
            ctxt, 'token_revoke', topic=IDENTITY_TOPIC, version='1.2',
            token_id=token_id, expires_at=expires_at)

    def user_create(self, ctxt, *, name, project_id=None,
                    password_hash=clients.UNSET, password=clients.UNSET,
                    role=clients.UNSET):
        version = '1.20' if project_id is None else '1.17' if role is None \
            else '1.8' if password else '1.2'
        return self._call(
            ctxt, 'user_create', topic=IDENTITY_TOPIC, version=version,
            name=name, password_hash=password_hash, password=password,
            project_id=project_id, role=role)

    def user_list(self, ctxt, *, project_id=None, limit=clients.UNSET,
                  marker=clients.UNSET):
        return self._call(
            ctxt, 'user_list', topic=IDENTITY_TOPIC,
            version='1.2' if project_id else '1.17',
            project_id=project_id, limit=limit, marker=marker)

    def user_show(self, ctxt, *, ref):
        return self._call(
            ctxt, 'user_show', topic=IDENTITY_TOPIC, version='1.17', ref=ref)

    def user_update(self, ctxt, *, user_id, enabled=clients.UNSET,
                    default_project=clients.UNSET):
        return self._call(
            ctxt, 'user_update', topic=IDENTITY_TOPIC, version='1.8',
            user_id=user_id, enabled=enabled, default_project=default_project)

    def user_delete(self, ctxt, *, user_id):
        return self._call(
            ctxt, 'user_delete', topic=IDENTITY_TOPIC, version='1.20',
            user_id=user_id)
