// Role assignments, each at the narrowest scope that works: one loop per kind of scope over {principal, role}.
// Principals: the function's identity, and the deploying user (azd's AZURE_PRINCIPAL_ID) for the operator
// commands run from a workstation (scripts/send's Azure form, ops.status, ops.replay_poison).
// The README's role table is tested against this file (tests/unit/test_infra.py).
param principalId string
@description('The deploying user (or CI service principal): roles for the operator commands; empty for none.')
param userPrincipalId string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param userPrincipalType string = 'User'
param storageAccountName string
param queueName string
param ledgerTableName string
param topicName string
param keyVaultName string
param applicationInsightsName string

// Built-in role definition ids.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

var principals = {
  function: { id: principalId, type: 'ServicePrincipal' }
  user: { id: userPrincipalId, type: userPrincipalType }
}

// The user's grants only when azd passed a principal.
func granted(grants array, userPrincipalId string) array => filter(grants, g => g.principal == 'function' || !empty(userPrincipalId))

// Queues. Contributor where messages are released: the host's QueueProcessor.ReleaseMessageAsync and its
// visibility renewal call UpdateMessage (queues/messages/write), which Reader + Message Processor lack; a 403 there
// stops the host (azure-sdk-for-net, Microsoft.Azure.WebJobs.Extensions.Storage.Queues; MicrosoftDocs/azure-docs#120932).
var allQueueGrants = [
  { principal: 'function', queue: queueName, role: 'storageQueueDataContributor' }
  { principal: 'function', queue: '${queueName}-poison', role: 'storageQueueDataContributor' }
  { principal: 'function', queue: '${queueName}-exhausted', role: 'storageQueueDataMessageSender' }
  { principal: 'user', queue: queueName, role: 'storageQueueDataContributor' }
  { principal: 'user', queue: '${queueName}-poison', role: 'storageQueueDataContributor' }
  { principal: 'user', queue: '${queueName}-exhausted', role: 'storageQueueDataContributor' }
]
var queueGrants = granted(allQueueGrants, userPrincipalId)

// The account: the host's storage (blob leases, the deployment package; diagnostic events in tables of its own
// naming, so Table at account scope, which covers the ledger too).
var accountGrants = [
  { principal: 'function', role: 'storageBlobDataOwner' }
  { principal: 'function', role: 'storageTableDataContributor' }
]

var allTableGrants = [
  { principal: 'user', table: ledgerTableName, role: 'storageTableDataReader' }
]
var tableGrants = granted(allTableGrants, userPrincipalId)

var topicGrants = [{ principal: 'function', role: 'eventGridDataSender' }]
var vaultGrants = [{ principal: 'function', role: 'keyVaultSecretsOfficer' }]
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

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

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

resource vaultRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in vaultGrants: {
    name: guid(vault.id, principals[grant.principal].id, roles[grant.role])
    scope: vault
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: principals[grant.principal].id
      principalType: principals[grant.principal].type
    }
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
