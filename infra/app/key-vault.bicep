// One vault (main.bicep makes two: the customers' first admin passwords, and the App+User refresh token): RBAC mode,
// soft delete, purge protection when asked for, its audit log in Log Analytics, and no public endpoint when asked.
// A deleted vault keeps its name while soft-deleted: `azd down` purges it unless purge protection forbids that, in
// which case the name is taken for softDeleteRetentionInDays (see README, Deploying).
param name string
param location string
param tags object = {}
@description('Irreversible once on; the API refuses an explicit false (Azure/azure-rest-api-specs#18106), so off is "unset".')
param purgeProtection bool = false
@description('The Log Analytics workspace that receives the vault\'s audit events.')
param logAnalyticsWorkspaceId string
@description('Refuse the public endpoint (its private endpoint is in network.bicep); off keeps today\'s public access.')
param restrictPublicNetworkAccess bool = false

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: restrictPublicNetworkAccess ? 'Disabled' : 'Enabled'
    networkAcls: { defaultAction: restrictPublicNetworkAccess ? 'Deny' : 'Allow', bypass: 'AzureServices' }
  }
}

// Every data-plane call (who read, set or listed which secret, allowed or refused) and every change to the vault.
// Category AuditEvent; resource-specific mode ('Dedicated') puts it in the AZKVAuditLogs table rather than the
// legacy AzureDiagnostics ("Supported logs for Microsoft.KeyVault/vaults", learn.microsoft.com/azure/azure-monitor/
// reference/supported-logs/microsoft-keyvault-vaults-logs). Ingestion is billed per GB (infra/README.md).
resource audit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [{ category: 'AuditEvent', enabled: true }]
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
