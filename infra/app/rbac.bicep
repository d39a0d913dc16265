// Role assignments, each at the narrowest scope that works: one loop per kind of scope over {principal, role}, and
// the two custom roles no built-in role matches. Principals: the function's identity, and the deploying user (azd's
// AZURE_PRINCIPAL_ID) for the operator commands run from a workstation (ops.send, ops.status, ops.replay_poison,
// ops.backfill, ops.consent, ops.doctor). docs/security.md's role table is tested against this file
// (tests/unit/infra/test_infra_roles.py), and so are the roles the commands check before they act (ops/roles.py).
param principalId string
@description('The deploying user (or CI service principal): roles for the operator commands; empty for none.')
param userPrincipalId string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param userPrincipalType string = 'User'
param storageAccountName string
param queueName string
param ledgerTableName string
param intakeTableName string
param deploymentContainerName string
param topicName string
param passwordVaultName string
param tokenVaultName string
param applicationInsightsName string

// Built-in role definition ids.
var builtInRoles = {
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  storageQueueDataReader: '19e7f393-937e-4f77-808e-94535e297925'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// Custom roles, assignable only in this resource group. Key Vault's built-in secret roles are too wide here: Secrets
// Officer is `secrets/*` (it reads, deletes and purges), Secrets User reads. Data actions as in "Azure permissions for
// Security" (MicrosoftDocs/azure-docs, role-based-access-control/permissions/security.md). Deploying them needs
// Microsoft.Authorization/roleDefinitions/write (Owner or User Access Administrator; infra/README.md).
var customRoles = {
  keyVaultSecretSetter: {
    roleName: 'Key Vault Secret Setter'
    description: 'Sets a secret (a new version each time, tags included); cannot read, list, update, delete or purge secrets.'
    dataActions: ['Microsoft.KeyVault/vaults/secrets/setSecret/action']
  }
  // getSecret reads the token, setSecret writes each rotated one, readMetadata lists its versions and reads their tags
  // (never a value), update disables the superseded versions. Not delete, purge, backup, restore or recover, which
  // Secrets Officer would add: the function never needs to destroy or export the token.
  keyVaultRefreshTokenKeeper: {
    roleName: 'Key Vault Refresh Token Keeper'
    description: 'Reads a secret, sets new versions, lists versions and disables old ones; cannot delete, purge, back up or restore secrets.'
    dataActions: [
      'Microsoft.KeyVault/vaults/secrets/getSecret/action'
      'Microsoft.KeyVault/vaults/secrets/setSecret/action'
      'Microsoft.KeyVault/vaults/secrets/readMetadata/action'
      'Microsoft.KeyVault/vaults/secrets/update/action'
    ]
  }
}
// A custom role's name (its id) and display name must be unique in the tenant: both derive from this resource group.
var customRoleIds = toObject(items(customRoles), role => role.key, role => guid(resourceGroup().id, role.key))
var roles = union(builtInRoles, customRoleIds)

var principals = {
  function: { id: principalId, type: 'ServicePrincipal' }
  user: { id: userPrincipalId, type: userPrincipalType }
}

// The user's grants only when azd passed a principal.
func granted(grants array, userPrincipalId string) array => filter(grants, g => g.principal == 'function' || !empty(userPrincipalId))

// Queues. Contributor where messages are released: the host's QueueProcessor.ReleaseMessageAsync and its
// visibility renewal call UpdateMessage (queues/messages/write), which Reader + Message Processor lack; a 403 there
// stops the host (azure-sdk-for-net, Microsoft.Azure.WebJobs.Extensions.Storage.Queues; MicrosoftDocs/azure-docs#120932).
// The user only sends to the requests queue (ops.send, ops.backfill, a replay's target) and counts it (ops.status: Get
// Queue Metadata is authorised by queues/read, which Reader has and Message Sender lacks): Sender + Reader, never the
// receive, delete or queue delete of Contributor. The parking and poison queues are emptied by ops.replay_poison.
var allQueueGrants = [
  { principal: 'function', queue: queueName, role: 'storageQueueDataContributor' }
  { principal: 'function', queue: '${queueName}-poison', role: 'storageQueueDataContributor' }
  { principal: 'function', queue: '${queueName}-exhausted', role: 'storageQueueDataMessageSender' }
  { principal: 'user', queue: queueName, role: 'storageQueueDataMessageSender' }
  { principal: 'user', queue: queueName, role: 'storageQueueDataReader' }
  { principal: 'user', queue: '${queueName}-poison', role: 'storageQueueDataContributor' }
  { principal: 'user', queue: '${queueName}-exhausted', role: 'storageQueueDataContributor' }
]
var queueGrants = granted(allQueueGrants, userPrincipalId)

// The account: the host writes diagnostic events to tables of its own naming, so Table at account scope, which covers
// the ledger and the intake table too.
var accountGrants = [
  { principal: 'function', role: 'storageTableDataContributor' }
]

// Blobs: one grant per container, and Contributor rather than Owner. Flex Consumption reads the package from the
// deployment container; the host keeps leases and timer locks in azure-webjobs-hosts and its keys in
// azure-webjobs-secrets (azure-functions-host: ScriptConstants.AzureWebJobsHostsContainerName,
// BlobStorageSecretsRepository). Microsoft documents Owner for host storage because "the runtime needs both read and
// write access to blobs and the ability to create containers" (includes/functions-azurewebjobsstorage-permissions.md,
// MicrosoftDocs/azure-docs): storage.bicep now creates all three containers, and the same page lists Blob Data
// Contributor for Durable Functions, which uses the same AzureWebJobsStorage connection as the host. Contributor
// reads, writes (leases included) and deletes blobs; Owner adds every other blob data action (Data Lake ACLs and
// ownership), and the account scope added every other container. Flex Consumption itself gives a deployment identity
// Storage Blob Data Contributor (articles/azure-functions/flex-consumption-how-to.md, "Configure deployment settings").
var containerGrants = [
  { principal: 'function', container: deploymentContainerName, role: 'storageBlobDataContributor' }
  { principal: 'function', container: 'azure-webjobs-hosts', role: 'storageBlobDataContributor' }
  { principal: 'function', container: 'azure-webjobs-secrets', role: 'storageBlobDataContributor' }
]

// The user reads the ledger (ops.status, ops.backfill's outcomes) and writes the intake's rows (ops.backfill: one
// request, one message, resumable), which Table Data Contributor on that one table allows.
var allTableGrants = [
  { principal: 'user', table: ledgerTableName, role: 'storageTableDataReader' }
  { principal: 'user', table: intakeTableName, role: 'storageTableDataContributor' }
]
var tableGrants = granted(allTableGrants, userPrincipalId)

var topicGrants = [{ principal: 'function', role: 'eventGridDataSender' }]
// Vaults. The function sets admin passwords it can never read back, and keeps the App+User refresh token; the user
// stores an Admin agent's sign-in there (ops.consent) and can read nothing back.
var vaultNames = { passwords: passwordVaultName, appUserToken: tokenVaultName }
var allVaultGrants = [
  { principal: 'function', vault: 'passwords', role: 'keyVaultSecretSetter' }
  { principal: 'function', vault: 'appUserToken', role: 'keyVaultRefreshTokenKeeper' }
  { principal: 'user', vault: 'appUserToken', role: 'keyVaultSecretSetter' }
]
var vaultGrants = granted(allVaultGrants, userPrincipalId)
var appInsightsGrants = [{ principal: 'function', role: 'monitoringMetricsPublisher' }]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = [
  for grant in queueGrants: {
    parent: queueService
    name: grant.queue
  }
]

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [
  for grant in containerGrants: {
    parent: blobService
    name: grant.container
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = [
  for grant in tableGrants: {
    parent: tableService
    name: grant.table
  }
]

resource topic 'Microsoft.EventGrid/topics@2022-06-15' existing = {
  name: topicName
}

resource vaults 'Microsoft.KeyVault/vaults@2023-07-01' existing = [
  for grant in vaultGrants: {
    name: vaultNames[grant.vault]
  }
]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource queueRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (grant, i) in queueGrants: {
    name: guid(queues[i].id, principals[grant.principal].id, roles[grant.role])
    scope: queues[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: principals[grant.principal].id
      principalType: principals[grant.principal].type
    }
  }
]

resource accountRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in accountGrants: {
    name: guid(account.id, principals[grant.principal].id, roles[grant.role])
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: principals[grant.principal].id
      principalType: principals[grant.principal].type
    }
  }
]

resource containerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (grant, i) in containerGrants: {
    name: guid(containers[i].id, principals[grant.principal].id, roles[grant.role])
    scope: containers[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: principals[grant.principal].id
      principalType: principals[grant.principal].type
    }
  }
]

resource tableRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (grant, i) in tableGrants: {
    name: guid(tables[i].id, principals[grant.principal].id, roles[grant.role])
    scope: tables[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: principals[grant.principal].id
      principalType: principals[grant.principal].type
    }
  }
]

resource topicRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in topicGrants: {
    name: guid(topic.id, principals[grant.principal].id, roles[grant.role])
    scope: topic
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: principals[grant.principal].id
      principalType: principals[grant.principal].type
    }
  }
]

resource customRoleDefinitions 'Microsoft.Authorization/roleDefinitions@2022-04-01' = [
  for role in items(customRoles): {
    name: customRoleIds[role.key]
    properties: {
      roleName: '${role.value.roleName} (${resourceGroup().name} ${uniqueString(resourceGroup().id)})'
      description: role.value.description
      type: 'CustomRole'
      permissions: [{ actions: [], notActions: [], dataActions: role.value.dataActions, notDataActions: [] }]
      assignableScopes: [resourceGroup().id]
    }
  }
]

resource vaultRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (grant, i) in vaultGrants: {
    name: guid(vaults[i].id, principals[grant.principal].id, roles[grant.role])
    scope: vaults[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: principals[grant.principal].id
      principalType: principals[grant.principal].type
    }
    dependsOn: [customRoleDefinitions] // the id is computed, not a reference: say the order
  }
]

resource appInsightsRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in appInsightsGrants: {
    name: guid(appInsights.id, principals[grant.principal].id, roles[grant.role])
    scope: appInsights
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: principals[grant.principal].id
      principalType: principals[grant.principal].type
    }
  }
]
