// One vault (main.bicep makes two: the customers' first admin passwords, and the App+User refresh token): RBAC mode,
// soft delete, and purge protection when asked for.
// A deleted vault keeps its name while soft-deleted: `azd down` purges it unless purge protection forbids that, in
// which case the name is taken for softDeleteRetentionInDays (see README, Deploying).
param name string
param location string
param tags object = {}
@description('Irreversible once on; the API refuses an explicit false (Azure/azure-rest-api-specs#18106), so off is "unset".')
param purgeProtection bool = false

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
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
